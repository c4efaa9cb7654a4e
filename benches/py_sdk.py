"""The vendors' official Python SDKs as peers for `make bench` (row 4 and row 6).

    py_sdk.py upload-wcs   URL AK SK BUCKET KEY FILE    wcs-python3-sdk multipart_upload
    py_sdk.py upload-ufile URL AK SK BUCKET KEY FILE    ufile MultipartUploadUFile.uploadfile
    py_sdk.py tokens SECONDS                            tokens minted per second (WCS, UFile)

Each command prints one JSON line. Only the SDKs' own settings are changed: URLs and keys (WCS
`Config`), `http_proxy` plus an upload suffix that never resolves (UFile, as in
tests/conformance/test_emulator_ufile.py), and `overwrite` so that the same key can be uploaded
again. Block sizes and concurrency stay at the SDKs' defaults.
"""
import json
import os
import shutil
import sys
import tempfile
import time


def upload_wcs(url, ak, sk, bucket, key, path):
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    from wcs.commons.config import Config
    from wcs.services.client import Client

    Config.access_key, Config.secret_key = ak, sk
    Config.put_url = Config.mgr_url = url
    Config.overwrite = 1
    record = tempfile.mkdtemp(prefix="yunup-bench-wcs-")
    Config.tmp_record_folder = record + "/"
    try:
        t0 = time.perf_counter()
        code, body, _ = Client(Config()).multipart_upload(path, bucket, key)
        seconds = time.perf_counter() - t0
    finally:
        shutil.rmtree(record, ignore_errors=True)
    if code != 200:
        sys.exit(f"wcs-python3-sdk multipart_upload failed: {code} {body}")
    return {"seconds": seconds, "hash": body.get("hash")}


def upload_ufile(url, ak, sk, bucket, key, path):
    port = url.rsplit(":", 1)[1].strip("/")
    for name in ("http_proxy", "HTTP_PROXY"):
        os.environ[name] = f"http://127.0.0.1:{port}"
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    import ufile.config
    from ufile.multipartuploadufile import MultipartUploadUFile

    suffix = ".ufile.yunup.invalid"
    ufile.config.set_default(uploadsuffix=suffix, downloadsuffix=suffix)
    t0 = time.perf_counter()
    ret, resp = MultipartUploadUFile(ak, sk).uploadfile(bucket, key, path)
    seconds = time.perf_counter() - t0
    if resp.status_code != 200:
        sys.exit(f"ufile uploadfile failed: {resp.status_code} {resp.error}")
    return {"seconds": seconds, "etag": (ret or {}).get("ETag")}


def rate(fn, seconds):
    """Calls per second of fn(i) over about `seconds` (in batches of 1000)."""
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(1000):
            fn(n)
            n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return n / elapsed


def tokens(seconds):
    from ufile.baseufile import BaseUFile
    from wcs.commons.auth import Auth

    wcs_auth = Auth("bench-ak", "bench-sk-0123456789abcdef")
    ufile_base = BaseUFile("bench-ak", "bench-sk-0123456789abcdef")
    header = {"Content-Type": "application/octet-stream"}
    return {
        # A put policy for one key, deadline one hour from now (the SDK computes it when absent).
        "wcs": rate(lambda i: wcs_auth.uploadtoken({"scope": f"public:photos/{i}.jpg"}), seconds),
        # The Authorization header of a PUT of one key.
        "ufile": rate(lambda i: ufile_base.authorization("put", "public", f"photos/{i}.jpg", dict(header)), seconds),
    }


def main(argv):
    command = argv[1]
    if command == "upload-wcs":
        out = upload_wcs(*argv[2:8])
    elif command == "upload-ufile":
        out = upload_ufile(*argv[2:8])
    elif command == "tokens":
        out = tokens(float(argv[2]))
    else:
        sys.exit(f"unknown command {command}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
