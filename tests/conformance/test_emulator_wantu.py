"""The emulated Wantu against what the Alibaba media (Wantu) Python SDK sends.

There is no Wantu SDK on PyPI. The Python SDK (`want.Want`, SDK_VERSION 1.0.0, vendored in
public projects; wantu.md §11) is reproduced here on the wire, byte for byte where it matters:

* tokens (§3): `json.dumps(policy)` (Python's default `", "`/`": "` spacing), URL-safe base64
  **with** padding, HMAC-SHA1 hex over the padded encoded policy, the outer layer padded too;
* bodies: built by hand, CRLF, boundary from `email.generator._make_boundary()` (unquoted in the
  header, full of `=`), text parts first (only truthy values, no part headers besides
  Content-Disposition), then `content` with `filename="<name>"` and `application/octet-stream`;
  custom fields as `meta<key>`/`var<key>` (the SDK forgets the dash);
* paths with `.json`, headers `Authorization` and `User-Agent: ALIMEDIASDK_PYTHON_TAE/1.0.0`;
* `parts` for complete: `json.dumps([{"eTag", "partNumber"}])`, URL-safe base64 with padding;
* replies read as the SDK reads them: JSON, keys with a capital turned snake_case at the first
  capital, `code` overwritten by the HTTP status.

The SDK is Python 2 code (under Python 3 it would send `parts` as the text `b'...'` and crash
while renaming reply keys), so the Python 2 wire behaviour is what is reproduced.
"""
import base64
import hashlib
import hmac
import json
import time
from email.generator import _make_boundary

import requests

USER_AGENT = "ALIMEDIASDK_PYTHON_TAE/1.0.0"


def urlsafe(data):
    return base64.urlsafe_b64encode(data if isinstance(data, bytes) else data.encode())


class WantSdk:
    """The request side of `want.Want` (TOP type)."""

    def __init__(self, ak, sk, endpoint):
        self.ak, self.sk, self.endpoint = ak, sk, endpoint
        self.boundary = _make_boundary()
        self.session = requests.Session()

    def upload_token(self, policy):
        encoded_policy = urlsafe(json.dumps(policy))
        sign = hmac.new(self.sk.encode("utf-8"), encoded_policy, hashlib.sha1).hexdigest()
        inner = self.ak + ":" + encoded_policy.decode() + ":" + sign
        return "UPLOAD_AK_TOP " + urlsafe(inner).decode()

    def encode_multipart(self, fields):
        crlf = b"\r\n"
        content = fields.pop("content", "")
        data = []
        for k, v in fields.items():
            if not k or not v:
                continue
            data.append(("--" + self.boundary).encode())
            data.append(('Content-Disposition: form-data; name="%s"' % k).encode())
            data.append(b"")
            data.append(str(v).encode())
        if content:
            data.append(("--" + self.boundary).encode())
            data.append(
                ('Content-Disposition: form-data; name="content"; filename="%s"' % fields.get("name")).encode()
            )
            data.append(b"Content-Type: application/octet-stream")
            data.append(b"")
            data.append(content)
        data.append(("--" + self.boundary + "--").encode())
        data.append(b"")
        return crlf.join(data)

    def post(self, path, policy, fields, token=None):
        headers = {
            "content-type": "multipart/form-data; boundary=%s" % self.boundary,
            "Authorization": token or self.upload_token(policy),
            "User-Agent": USER_AGENT,
        }
        r = self.session.post(self.endpoint + path, data=self.encode_multipart(fields), headers=headers)
        return sdk_result(r)

    # The SDK's methods, field for field.

    def upload_content(self, policy, dir, name, content, md5=None, meta={}, var={}, token=None):
        fields = {"name": name, "dir": dir, "content": content, "size": str(len(content))}
        if md5:
            fields["md5"] = md5
        for k, v in meta.items():
            fields["meta" + k] = v
        for k, v in var.items():
            fields["var" + k] = v
        return self.post("/api/proxy/upload.json", policy, fields, token)

    def multipart_init(self, policy, dir, name, content, md5=None):
        fields = {"name": name, "dir": dir, "content": content, "size": str(len(content))}
        if md5:
            fields["md5"] = md5
        return self.post("/api/proxy/blockInit.json", policy, fields)

    def multipart_upload(self, policy, _id, upload_id, part_number, content, md5=None):
        fields = {"id": _id, "uploadId": upload_id, "partNumber": part_number, "content": content,
                  "size": str(len(content))}
        if md5:
            fields["md5"] = md5
        return self.post("/api/proxy/blockUpload.json", policy, fields)

    def multipart_complete(self, policy, _id, upload_id, parts, md5=None):
        for p in parts:
            p["eTag"] = p.pop("e_tag")
            p["partNumber"] = p.pop("part_number")
        fields = {"id": _id, "uploadId": upload_id, "parts": urlsafe(json.dumps(parts)).decode()}
        if md5:
            fields["md5"] = md5
        return self.post("/api/proxy/blockComplete.json", policy, fields)

    def multipart_cancel(self, policy, _id, upload_id):
        return self.post("/api/proxy/blockCancel.json", policy, {"id": _id, "uploadId": upload_id})


def to_pep8(k):
    for i in range(len(k)):
        if k[i].isupper():
            return (k[:i] + "_" + k[i:]).lower()
    return k


def sdk_result(r):
    """`WantHttp.post`: the reply as the SDK returns it (plus the raw response for the test)."""
    body = r.json() if r.text != "" else {}
    body = {(k if k.islower() else to_pep8(k)): v for k, v in body.items()}
    body["code"] = r.status_code
    body["_response"] = r
    return body


def policy(namespace="public", **extra):
    p = {"namespace": namespace, "expiration": -1, "insertOnly": 0, "detectMime": 1, "sizeLimit": 0}
    p.update(extra)
    return p


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def test_upload_content_as_the_sdk_sends_it(emulator):
    sdk = WantSdk(emulator.ak, emulator.sk, emulator.wantu)
    assert "=" in sdk.boundary  # the header carries it unquoted
    content = bytes(range(256)) * 40
    # A policy whose JSON length leaves base64 padding, where the Python token differs from others.
    p = policy(dir="/py/${year}")
    assert len(json.dumps(p)) % 3 != 0
    assert urlsafe(json.dumps(p)).endswith(b"=")
    result = sdk.upload_content(p, "/ignored", "data.bin", content, md5=md5_hex(content),
                                meta={"title": "t"}, var={"k": "v"})
    assert result["code"] == 200, result
    assert result["_response"].reason == "OK"
    assert result["_response"].headers["Content-Type"] == "application/json;charset=UTF-8"
    year = time.strftime("%Y", time.gmtime(time.time() + 8 * 3600))
    assert result["dir"] == "/py/" + year
    assert result["name"] == "data.bin"
    assert result["e_tag"] == md5_hex(content).upper()
    assert result["file_size"] == len(content)
    assert isinstance(result["file_modified"], int)
    assert result["mime_type"] == "application/octet-stream"
    assert result["is_image"] is False
    assert len(result["request_id"]) == 32 and result["request_id"] == result["request_id"].upper()
    assert result["uri"] == "/py/%s/data.bin" % year
    assert result["file_id"]
    download = requests.get(result["url"])
    assert download.status_code == 200
    assert download.content == content


def test_multipart_as_the_sdk_sends_it(emulator):
    sdk = WantSdk(emulator.ak, emulator.sk, emulator.wantu)
    p = policy()
    chunks = [bytes([i]) * 102400 + b"x" * i for i in range(1, 4)] + [b"tail" * 10]
    whole = b"".join(chunks)
    init = sdk.multipart_init(p, "/py/multi", "big.bin", chunks[0], md5=md5_hex(chunks[0]))
    assert init["code"] == 200, init
    assert init["part_number"] == 1
    assert init["e_tag"] == md5_hex(chunks[0]).upper()
    assert len(init["upload_id"]) == 32 and init["upload_id"] == init["upload_id"].upper()
    assert len(init["id"].split("-")) == 5
    assert (init["dir"], init["name"]) == ("/py/multi", "big.bin")
    parts = [{"e_tag": init["e_tag"], "part_number": 1}]
    for n, chunk in enumerate(chunks[1:], start=2):
        r = sdk.multipart_upload(p, init["id"], init["upload_id"], n, chunk, md5=md5_hex(chunk))
        assert r["code"] == 200, r
        assert r["part_number"] == n
        assert r["e_tag"] == md5_hex(chunk).upper()
        parts.append({"e_tag": r["e_tag"], "part_number": r["part_number"]})
    done = sdk.multipart_complete(p, init["id"], init["upload_id"], parts, md5=md5_hex(whole))
    assert done["code"] == 200, done
    assert done["e_tag"] == md5_hex(whole).upper()
    assert done["file_size"] == len(whole)
    assert (done["id"], done["upload_id"]) == (init["id"], init["upload_id"])
    assert requests.get(done["url"]).content == whole
    # Finished: the session is gone.
    again = sdk.multipart_cancel(p, init["id"], init["upload_id"])
    assert again["code"] == 404
    assert again["_response"].json()["code"] == "NoSuchUpload"


def test_multipart_cancel_and_refusals(emulator):
    sdk = WantSdk(emulator.ak, emulator.sk, emulator.wantu)
    p = policy()
    small = b"s" * 1000
    init = sdk.multipart_init(p, "/py/cancel", "c.bin", small)
    assert init["code"] == 200, init
    r = sdk.multipart_upload(p, init["id"], init["upload_id"], 2, b"two", md5="0" * 32)
    assert r["code"] == 400 and r["_response"].json()["code"] == "BadDigest"
    r = sdk.multipart_upload(p, init["id"], init["upload_id"], 2, b"two")
    assert r["code"] == 200
    # Part 1 is under 100 KiB and not the last.
    parts = [{"e_tag": init["e_tag"], "part_number": 1}, {"e_tag": r["e_tag"], "part_number": 2}]
    refused = sdk.multipart_complete(p, init["id"], init["upload_id"], parts)
    assert refused["code"] == 400 and refused["_response"].json()["code"] == "EntityTooSmall"
    cancel = sdk.multipart_cancel(p, init["id"], init["upload_id"])
    assert cancel["code"] == 200
    assert set(cancel) == {"code", "request_id", "_response"}
    r = sdk.multipart_upload(p, init["id"], init["upload_id"], 3, b"three")
    assert r["code"] == 404 and r["_response"].json()["code"] == "NoSuchUpload"


def test_error_replies_as_the_sdk_reads_them(emulator):
    sdk = WantSdk(emulator.ak, emulator.sk, emulator.wantu)
    expired = policy(expiration=int(time.time() * 1000) - 60_000)
    r = sdk.upload_content(expired, "/py", "e.bin", b"data")
    assert r["code"] == 401
    assert r["_response"].json()["code"] == "TokenExpired"
    assert set(r) == {"code", "message", "request_id", "_response"}
    assert r["_response"].headers["Content-Type"] == "application/json;charset=UTF-8"

    other = WantSdk(emulator.ak, "not-the-secret", emulator.wantu)
    r = other.upload_content(policy(), "/py", "s.bin", b"data")
    assert r["code"] == 401 and r["_response"].json()["code"] == "SignatureDoesNotMatch"

    unknown = WantSdk("not-an-ak", emulator.sk, emulator.wantu)
    r = unknown.upload_content(policy(), "/py", "u.bin", b"data")
    assert r["code"] == 401 and r["_response"].json()["code"] == "InvalidAccessKeyId"

    r = sdk.upload_content(policy("nowhere"), "/py", "n.bin", b"data")
    assert r["code"] == 404 and r["_response"].json()["code"] == "NoSuchNamespace"

    once = policy(insertOnly=1)
    assert sdk.upload_content(once, "/py", "once.bin", b"first")["code"] == 200
    r = sdk.upload_content(once, "/py", "once.bin", b"second")
    assert r["code"] == 409 and r["_response"].json()["code"] == "FileAlreadyExists"
    assert requests.get(emulator.wantu + "/public/py/once.bin").content == b"first"

    r = sdk.upload_content(policy(sizeLimit=3), "/py", "big.bin", b"four")
    assert r["code"] == 413 and r["_response"].json()["code"] == "FileSizeLimitExceeded"
    r = sdk.upload_content(policy(mimeLimit="image/*"), "/py", "t.txt", b"text")
    assert r["code"] == 415 and r["_response"].json()["code"] == "MimeTypeNotAllowed"


def test_return_body_rendering(emulator):
    sdk = WantSdk(emulator.ak, emulator.sk, emulator.wantu)
    p = policy(returnBody='{"dir":${dir},"name":${name},"size":${fileSize},"mime":"${mimeType}"}')
    gif = b"GIF89a\x02\x00\x03\x00" + b"\x00" * 20
    r = sdk.upload_content(p, "/py/rb", "g.gif", gif)
    assert r["code"] == 200, r
    assert r["_response"].json() == {"dir": "/py/rb", "name": "g.gif", "size": len(gif), "mime": "image/gif"}
