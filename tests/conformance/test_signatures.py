"""UFile signatures from `yunup` against the official Python SDK (PyPI `ufile` 3.2.11).

The SDK's signing lives in:

* `ufile.baseufile.BaseUFile.authorization(method, bucket, key, header, mime_type)`: the
  `Authorization: UCloud pub:sig` value every object request carries (put, delete, head,
  multipart); StringToSign `VERB\\nContent-MD5\\nContent-Type\\nDate\\n/bucket/key`.
* `ufile.baseufile.BaseUFile.signature(bucket, key, method, header={"Expires": ...})`: the
  presigned-URL signature; `ufile.filemanager.FileManager.private_download_url` builds the URL
  from it (with `internal=True`, the percent-encoded query form).
* `ufile.auth.Auth.ufile_signature` / `ufile_authorization` (HMAC-SHA1, standard base64) and
  `Auth.bucket_signature` (management API, SHA-1 hex) underneath.

There is no Wantu SDK on PyPI (`want` is an unrelated image downloader; `wantu` and `alimedia`
do not exist), so Wantu is covered by the Rust tests alone.
"""
import time
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
import ufile.filemanager
from ufile.auth import Auth
from ufile.baseufile import BaseUFile
from ufile.filemanager import FileManager

PUB, PRIV = "conformance-ufile-pub", "conformance-ufile-priv-0123456789"
KEYS = {"YUNUP_ACCESS_KEY": PUB, "YUNUP_SECRET_KEY": PRIV}

SIGN_CASES = [
    # method, bucket, key, content_md5, content_type, date
    ("PUT", "demobucket", "demokey", "", "image/jpeg", ""),
    ("PUT", "demobucket", "photos/中文 a+b.jpg", "5d41402abc4b2a76b9719d911017c592", "image/jpeg", ""),
    ("PUT", "demobucket", "dir/file.bin", "", "application/octet-stream", ""),
    ("DELETE", "demobucket", "dir/file.txt", "", "", ""),
    ("HEAD", "demobucket", "dir/file.txt", "", "", ""),
    ("POST", "demobucket", "big.bin", "", "text/plain", ""),
    ("POST", "demobucket", "form/up load.png", "", "image/png", ""),
    ("GET", "demobucket", "", "", "", "20240101120000"),
    ("GET", "demobucket", "a/b/c.txt", "", "", "Mon, 01 Jan 2024 12:00:00 GMT"),
]


def sdk_authorization(method, bucket, key, content_md5, content_type, date):
    header = {}
    if content_md5:
        header["Content-MD5"] = content_md5
    if content_type:
        header["Content-Type"] = content_type
    if date:
        header["Date"] = date
    return BaseUFile(PUB, PRIV).authorization(method.lower(), bucket, key, header=header)


@pytest.mark.parametrize("method, bucket, key, content_md5, content_type, date", SIGN_CASES)
def test_authorization_equals_the_python_sdk(method, bucket, key, content_md5, content_type, date, yunup):
    theirs = sdk_authorization(method, bucket, key, content_md5, content_type, date)
    args = ["sign", "ufile", "--method", method, "--bucket", bucket, "--key", key]
    if content_md5:
        args += ["--content-md5", content_md5]
    if content_type:
        args += ["--content-type", content_type]
    if date:
        args += ["--date", date]
    assert yunup(*args, env=KEYS) == theirs


@pytest.mark.parametrize(
    "method, key",
    [("GET", "dir/a b.jpg"), ("GET", "中文/文件 1+2.txt"), ("HEAD", "plain.txt"), ("GET", "x~y_z-1.2")],
)
def test_presigned_url_equals_the_python_sdk(method, key, yunup, monkeypatch):
    expires_in = 600
    before = int(time.time())
    url = yunup(
        "presign", "ufile", "--method", method, "--bucket", "demobucket", "--key", key,
        "--expires-in", str(expires_in), env=KEYS,
    )
    after = int(time.time())
    parts = urlsplit(url)
    assert parts.query, f"no query string in {url!r}"
    # The key is percent-encoded UTF-8 with '/' kept, exactly as Python's quote() does it.
    assert parts.path.endswith("/" + quote(key, safe="/")), url
    assert unquote(parts.path).endswith("/" + key)
    ours = dict(parse_qsl(parts.query, keep_blank_values=True))
    assert set(ours) >= {"UCloudPublicKey", "Expires", "Signature"}, url
    raw_signature = [v for k, v in (p.split("=", 1) for p in parts.query.split("&")) if k == "Signature"][0]
    assert not set(raw_signature) & set("+/="), f"the signature must be percent-encoded: {raw_signature}"
    expires = int(ours["Expires"])
    assert before + expires_in <= expires <= after + expires_in

    # The SDK's own signature for the same Expires.
    assert ours["Signature"] == BaseUFile(PUB, PRIV).signature("demobucket", key, method.lower(), {"Expires": str(expires)})
    if method == "GET":
        # And its URL builder, with the clock set so that it picks the same Expires.
        monkeypatch.setattr(ufile.filemanager.time, "time", lambda: expires - expires_in)
        sdk_url = FileManager(PUB, PRIV).private_download_url("demobucket", key, expires=expires_in, internal=True)
        monkeypatch.undo()
        theirs = dict(parse_qsl(urlsplit(sdk_url).query, keep_blank_values=True))
        assert {k: ours[k] for k in ("UCloudPublicKey", "Expires", "Signature")} == theirs


def test_recorded_rust_vectors_still_match_the_sdk():
    """The SDK outputs recorded as data in src/sign/ufile.rs (`python_sdk_outputs`), recomputed.

    If the SDK ever changes, this fails, and the Rust test data must be looked at again.
    """
    sdk = BaseUFile("demo-public-key", "test-private-key")
    assert sdk.authorization("put", "demobucket", "demokey", mime_type="image/jpeg") == (
        "UCloud demo-public-key:k0ft/BmcNWgSWSxGRhSq7VikWLI="
    )
    assert sdk.authorization(
        "put", "demobucket", "photos/中文 a+b.jpg",
        header={"Content-Type": "image/jpeg", "Content-MD5": "5d41402abc4b2a76b9719d911017c592"},
    ) == "UCloud demo-public-key:ZTgzYLvnk6L+BSHBXVWnwnCtUwo="
    assert sdk.authorization("delete", "demobucket", "dir/file.txt") == "UCloud demo-public-key:z6BFwSZzgFtlnUGmXE7mqNAl/Eg="
    assert sdk.authorization("post", "demobucket", "big.bin", mime_type="text/plain") == (
        "UCloud demo-public-key:2mFzShORFGOPl9xECLyxAcu+Q6M="
    )
    assert sdk.authorization("get", "demobucket", "", header={"Date": "20240101120000"}) == (
        "UCloud demo-public-key:0/7ewOfXm8/Hr6ncEVVYm6TNWI8="
    )
    assert sdk.signature("demobucket", "dir/a b.jpg", "get", {"Expires": "1700000000"}) == "4cstxA1JO/c6Bbks6VLw5JQ9qDs="
    assert sdk.signature("demobucket", "dir/a b.jpg", "head", {"Expires": "1700000000"}) == "7OiH/6WBZnPJJb4TOLFbpBxNP1k="
    query = {"Action": "CreateBucket", "BucketName": "demobucket", "Region": "cn-bj", "Type": "private"}
    assert Auth("demo-public-key", "test-private-key").bucket_signature(query) == "fd10bd63eb7aedbcf30d177a4be8232088fbbe52"
    # protocols/ufile.md §7.1, through the SDK.
    doc = {"Action": "DescribeUHostInstance", "Region": "cn-bj2", "Limit": "10"}
    assert Auth("ucloudsomeone@example.com1296235120854146120", "46f09bb9fab4f12dfc160dae12273d5332b5debe").bucket_signature(
        doc
    ) == "cba5cf5ec4d4233d206b1b54951e3787350a642f"
