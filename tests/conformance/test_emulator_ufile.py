"""The emulated UFile against the OFFICIAL Python SDK (PyPI `ufile` 3.2.11), unchanged.

Only the host settings differ from production: `ufile.config.set_default(uploadsuffix=...,
downloadsuffix=...)` names buckets `<bucket>.ufile.yunup.invalid`, and `http_proxy` points at the
emulator's UFile port, so `requests` sends absolute-form requests (`PUT http://<bucket>.<suffix>/<key>`)
that the emulator routes by their host (official-sdk-requests.md). `no_proxy` keeps loopback direct.
`.invalid` never resolves: a request that bypassed the proxy would fail instead of leaving the machine.

SDK entry points used (site-packages `ufile/`): `filemanager.FileManager` (putfile, postfile,
head_file, compare_file_etag, download_file, private_download_url, getfilelist, listobjects,
deletefile) and `multipartuploadufile.MultipartUploadUFile` (uploadfile, resumeuploadfile,
get_multi_upload_part).
"""
import hashlib
import threading
import warnings

import pytest
import requests
import ufile.config
import ufile.multipartuploadufile as multipart_module
from ufile import util
from ufile.filemanager import FileManager
from ufile.httprequest import ResponseInfo
from ufile.multipartuploadufile import MultipartUploadUFile

SUFFIX = ".ufile.yunup.invalid"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def sdk(emulator):
    """Point the SDK at the emulator for this module; restore its configuration after."""
    patch = pytest.MonkeyPatch()
    proxy = f"http://127.0.0.1:{emulator.ufile_port}"
    for name in ("http_proxy", "HTTP_PROXY"):
        patch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        patch.setenv(name, "127.0.0.1,localhost")
    saved = dict(ufile.config._config)
    ufile.config.set_default(uploadsuffix=SUFFIX, downloadsuffix=SUFFIX)
    yield emulator
    ufile.config._config.clear()
    ufile.config._config.update(saved)
    patch.undo()


def fm(emulator):
    return FileManager(emulator.ak, emulator.sk)


def resume(up):
    """`resumeuploadfile` is deprecated since 3.2.6 (and its decorator resets warning filters)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return up.resumeuploadfile(retryinterval=0)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_putfile_head_download_delete(sdk, files, tmp_path):
    manager = fm(sdk)
    local, data = files("photo one.jpg", 300_000)
    key = "py/dir/photo one 中文.jpg"

    ret, resp = manager.putfile("secret", key, local)
    assert resp.status_code == 200, resp.error
    assert resp.etag == f'"{util.file_etag(local)}"', "quoted UFile ETag"
    assert resp.x_session_id

    ret, resp = manager.head_file("secret", key)
    assert resp.status_code == 200, resp.error
    assert int(resp.content_length) == len(data)
    assert resp.content_type == "image/jpeg"
    assert manager.compare_file_etag("secret", key, local)

    out = str(tmp_path / "out.jpg")
    ret, resp = manager.download_file("secret", key, out, isprivate=True)
    assert resp.status_code == 200, resp.error
    assert read(out) == data

    # The public-style URL with a raw (not percent-encoded) signature works as well.
    url = manager.private_download_url("secret", key)
    r = requests.get(url)
    assert r.status_code == 200 and r.content == data

    ret, resp = manager.deletefile("secret", key)
    assert resp.status_code == 204, resp.error
    ret, resp = manager.head_file("secret", key)
    assert resp.status_code == 404


def test_private_download_with_a_range(sdk, files, tmp_path):
    manager = fm(sdk)
    local, data = files("ranged.bin", 2 * MIB + 3)
    ret, resp = manager.putfile("secret", "py/ranged.bin", local)
    assert resp.status_code == 200, resp.error
    out = str(tmp_path / "part.bin")
    ret, resp = manager.download_file("secret", "py/ranged.bin", out, isprivate=True, content_range=(0, 50))
    assert resp.status_code == 206, resp.error
    assert resp.content_range == (0, 50)
    assert read(out) == data[:51]
    ret, resp = manager.download_file("secret", "py/ranged.bin", out, isprivate=True, content_range=(MIB, 2 * MIB + 2))
    assert resp.status_code == 206, resp.error
    assert read(out) == data[MIB:]
    ret, resp = manager.download_file("secret", "py/ranged.bin", out, isprivate=True, content_range=(3 * MIB, 3 * MIB + 1))
    assert resp.status_code == 416


def test_public_bucket_download_needs_no_signature(sdk, files, tmp_path):
    manager = fm(sdk)
    local, data = files("pub.txt", 1000)
    ret, resp = manager.putfile("public", "py/pub.txt", local)
    assert resp.status_code == 200, resp.error
    out = str(tmp_path / "pub-out.txt")
    ret, resp = manager.download_file("public", "py/pub.txt", out, isprivate=False)
    assert resp.status_code == 200, resp.error
    assert read(out) == data


def test_errors_reach_the_sdk_as_retcode_and_errmsg(sdk, files, tmp_path):
    local, _ = files("e.txt", 10)
    ret, resp = FileManager(sdk.ak, "wrong-secret").putfile("secret", "py/e.txt", local)
    assert resp.status_code == 403
    assert resp.ret_code == -148658
    assert resp.error == "invalid signature"
    assert resp.x_session_id
    ret, resp = fm(sdk).download_file("nosuchbucket", "k", str(tmp_path / "x"), isprivate=True)
    assert resp.status_code == 404
    assert resp.ret_code == -30010
    # Content-MD5 checked when the SDK sends it (set_default(md5=True)).
    ufile.config.set_default(uploadsuffix=SUFFIX, downloadsuffix=SUFFIX, md5=True)
    try:
        ret, resp = fm(sdk).putfile("secret", "py/md5.txt", local)
        assert resp.status_code == 200, resp.error
    finally:
        ufile.config.set_default(uploadsuffix=SUFFIX, downloadsuffix=SUFFIX, md5=False)


def test_postfile_form_upload(sdk, files, tmp_path):
    manager = fm(sdk)
    local, data = files("form.png", 200_000)
    ret, resp = manager.postfile("secret", "py/form upload.png", local)
    assert resp.status_code == 200, resp.error
    assert resp.etag.strip('"') == util.file_etag(local)
    out = str(tmp_path / "form-out.png")
    ret, resp = manager.download_file("secret", "py/form upload.png", out)
    assert resp.status_code == 200, resp.error
    assert resp.content_type == "image/png"
    assert read(out) == data


def test_multipart_upload_of_10_mib(sdk, files, tmp_path):
    local, data = files("big.bin", 10 * MIB + 12345)
    up = MultipartUploadUFile(sdk.ak, sdk.sk)
    ret, resp = up.uploadfile("secret", "py/multipart/big.bin", local)
    assert resp.status_code == 200, resp.error
    assert ret["FileSize"] == len(data) and ret["Key"] == "py/multipart/big.bin"
    assert up.blocksize == 4 * MIB
    assert len(up.etaglist) == 3
    assert resp.etag == f'"{util.file_etag(local)}"'

    manager = fm(sdk)
    assert manager.compare_file_etag("secret", "py/multipart/big.bin", local)
    out = str(tmp_path / "big-out.bin")
    ret, resp = manager.download_file("secret", "py/multipart/big.bin", out)
    assert resp.status_code == 200, resp.error
    assert hashlib.sha256(read(out)).digest() == hashlib.sha256(data).digest()


def test_multipart_resume_after_a_failed_part(sdk, files, tmp_path, monkeypatch):
    """Part 1 fails as on a broken network (the SDK's own status -1), the others succeed in
    parallel; `resumeuploadfile` then finishes the upload on the emulator."""
    local, data = files("resume.bin", 10 * MIB + 777)
    key = "py/multipart/resume.bin"
    real_part_upload = multipart_module._shardingupload
    failed = []
    part2_done = threading.Event()

    def flaky(url, part_data, header):
        if "partNumber=1" in url and not failed:
            # Fail only once part 2 (sent in parallel) is acknowledged: a failure after some parts.
            part2_done.wait(timeout=30)
            failed.append(url)
            return None, ResponseInfo(None, requests.ConnectionError("simulated network failure"))
        result = real_part_upload(url, part_data, header)
        if "partNumber=2" in url:
            part2_done.set()
        return result

    monkeypatch.setattr(multipart_module, "_shardingupload", flaky)
    up = MultipartUploadUFile(sdk.ak, sdk.sk)
    ret, resp = up.uploadfile("secret", key, local, retrycount=1, retryinterval=0)
    assert resp.status_code == -1 and resp.need_retry()
    assert up.pausepartnumber == 1
    assert up.etaglist[1] == "" and up.etaglist[0] and up.etaglist[2]

    # The parts acknowledged before the failure are on the server.
    listed, r = up.get_multi_upload_part("secret", up.uploadid)
    assert r.status_code == 200, r.error
    assert [p["PartNum"] for p in listed["Parts"]] == [0, 2]
    assert fm(sdk).head_file("secret", key)[1].status_code == 404, "no half object"

    # ufile 3.2.11's resume appends to the etag list after a parallel failure, so its finish body
    # has an empty entry ("e0,,e2,e1,e2"): refused with a clear error, the upload kept.
    ret, resp = resume(up)
    assert resp.status_code == 400
    assert "empty" in resp.error
    assert len(up.etaglist) == 5 and up.etaglist[1] == ""

    # Resuming with the list cut at the failed part (the SDK's documented state) completes.
    up.etaglist = up.etaglist[:1]
    up.pausepartnumber = 1
    ret, resp = resume(up)
    assert resp.status_code == 200, resp.error
    assert ret["FileSize"] == len(data)
    out = str(tmp_path / "resume-out.bin")
    ret, resp = fm(sdk).download_file("secret", key, out)
    assert resp.status_code == 200, resp.error
    assert read(out) == data
    assert fm(sdk).compare_file_etag("secret", key, local)


def test_listings(sdk, files):
    manager = fm(sdk)
    local, _ = files("l.txt", 10)
    for key in ["py/list/a.txt", "py/list/b.txt", "py/list/sub/c.txt"]:
        assert manager.putfile("public", key, local)[1].status_code == 200
    ret, resp = manager.getfilelist("public", prefix="py/list/", limit=2)
    assert resp.status_code == 200, resp.error
    assert [o["FileName"] for o in ret["DataSet"]] == ["py/list/a.txt", "py/list/b.txt"]
    assert ret["NextMarker"] == "py/list/b.txt"
    ret, resp = manager.listobjects("public", prefix="py/list/", marker="", maxkeys=100, delimiter="/")
    assert resp.status_code == 200, resp.error
    assert [o["Key"] for o in ret["Contents"]] == ["py/list/a.txt", "py/list/b.txt"]
    assert [p["Prefix"] for p in ret["CommonPrefixes"]] == ["py/list/sub/"]


def test_expired_private_url_is_refused(sdk, files):
    manager = fm(sdk)
    local, _ = files("x.txt", 10)
    assert manager.putfile("secret", "py/x.txt", local)[1].status_code == 200
    url = manager.private_download_url("secret", "py/x.txt", expires=-10)
    r = requests.get(url)
    assert r.status_code == 403
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"RetCode": -148658, "ErrMsg": "invalid signature"}
