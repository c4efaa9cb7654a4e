"""WCS management against the official `wcs-python3-sdk` from PyPI, unchanged.

The SDK's own `Client` and `BucketManager`/`Fmgr`/`PersistentFop`/`WsLive` calls, with only its
settings pointed at the emulator (`Config.mgr_url`, the key pair, `notifyurl` for jobs) and
`no_proxy` so that `requests` talks to 127.0.0.1 directly. Every call returns the SDK's
`(status, body, headers)` triple; the emulator must answer in shapes it parses (JSON with `code`
on errors, an `X-Reqid` header). A small loopback HTTP server is the fetch source and the notify
receiver.
"""
import base64
import hashlib
import hmac
import io
import json
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from wcs.commons.config import Config
from wcs.commons.util import etag
from wcs.services.client import Client
from wcs.services.filemanager import BucketManager
from wcs.services.fmgr import Fmgr
from wcs.commons.auth import Auth


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.fixture
def client(emulator, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    settings = {
        "access_key": emulator.ak,
        "secret_key": emulator.sk,
        "put_url": emulator.wcs,
        "mgr_url": emulator.wcs,
        "overwrite": 1,
        "returnUrl": "",
        "returnBody": "",
        "callbackUrl": "",
        "persistentOps": "",
        "deadline": 3600,
        "notifyurl": "",
        "separate": 0,
        "force": 0,
        "limit": 1000,
        "prefix": "",
        "mode": 3,
        "marker": "",
    }
    for name, value in settings.items():
        monkeypatch.setattr(Config, name, value)
    return Client(Config())


@pytest.fixture
def put(client, tmp_path):
    """Upload `content` as bucket:key with the SDK's simple upload."""

    def upload(bucket, key, content):
        path = tmp_path / "upload.bin"
        path.write_bytes(content)
        code, body, _ = client.simple_upload(str(path), bucket, key)[:3]
        assert code == 200, body
        return etag(str(path))

    return upload


class Loopback:
    """`GET /files/<name>` serves `files`; `POST /notify` records the request and answers 200."""

    def __init__(self, files):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                data = files.get(name)
                self.send_response(200 if data is not None else 404)
                body = data if data is not None else b"missing"
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def loopback():
    servers = []

    def start(files=None):
        server = Loopback(files or {})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def wait_job(status_call, persistent_id, final=(3, 5, 6), seconds=30):
    """Poll the SDK's status call until the job's code is final; the codes seen, and the body."""
    seen, deadline = [], time.monotonic() + seconds
    while True:
        code, body, headers = status_call(persistent_id)
        assert code == 200, body
        assert "x-reqid" in {k.lower() for k in headers}
        if not seen or seen[-1] != body["code"]:
            seen.append(body["code"])
        if body["code"] in final:
            return seen, body
        assert time.monotonic() < deadline, f"job stuck at {seen}"
        time.sleep(0.02)


def test_bucket_list_stat_copy_move_delete_setdeadline(client, put):
    code, body, headers = client.list_buckets()
    assert code == 200 and headers["x-reqid"] != "None"
    assert [b["name"] for b in body["buckets"]] == ["public", "secret"]

    hello = put("public", "dir/a.txt", b"hello world")
    code, body, _ = client.stat("public", "dir/a.txt")
    assert code == 200, body
    assert (body["name"], body["fsize"], body["hash"]) == ("dir/a.txt", 11, hello)

    code, body, _ = client.copy("public", "dir/a.txt", "secret")  # dstkey defaults to the source key
    assert code == 200 and body["code"] == 200, body
    assert client.stat("secret", "dir/a.txt")[1]["hash"] == hello

    code, body, _ = client.move("public", "dir/a.txt", "public", "dir/b.txt")
    assert code == 200, body
    code, body, _ = client.stat("public", "dir/a.txt")
    assert code == 404 and body["code"] == 404 and body["message"], body
    assert client.stat("public", "dir/b.txt")[1]["hash"] == hello

    code, body, _ = client.setdeadline("public", "dir/b.txt", 5)
    assert code == 200, body
    assert client.stat("public", "dir/b.txt")[1]["expirationDate"] != ""
    assert client.setdeadline("public", "dir/b.txt", -1)[0] == 200
    assert client.stat("public", "dir/b.txt")[1]["expirationDate"] == ""

    code, body, _ = client.delete("public", "dir/b.txt")
    assert code == 200, body
    assert client.stat("public", "dir/b.txt")[0] == 404
    assert client.delete("public", "dir/b.txt")[0] == 404
    assert client.stat("no-such-bucket", "x")[0] == 631


def test_listing_pages_with_markers(client, put):
    keys = [f"page/{i:02d}.bin" for i in range(12)]
    for key in keys:
        put("public", key, key.encode())
    put("public", "page/sub/deep.bin", b"deep")

    code, first, _ = client.bucket_list("public", prefix="page/", limit=5)
    assert code == 200, first
    assert [i["key"] for i in first["items"]] == keys[:5]
    assert first["marker"]
    item = first["items"][0]
    assert item["fsize"] == len(keys[0]) and item["hash"] and item["putTime"] > 0 and item["mimeType"]

    # The SDK's own loop over markers.
    code, everything, _ = client.bucket_listAll("public", prefix="page/", limit=5)
    assert code == 200
    assert [i["key"] for i in everything["items"]] == keys + ["page/sub/deep.bin"]

    # Directory mode: the files of page/, then page/sub/ as a common prefix.
    code, body, _ = client.bucket_list("public", prefix="page/", limit=1000, mode=0)
    assert code == 200
    assert [i["key"] for i in body["items"]] == keys
    assert body["commonPrefixes"] == ["page/sub/"]
    assert not body["marker"]


def test_bad_keys_are_401(emulator, client, monkeypatch):
    monkeypatch.setattr(Config, "secret_key", "not-the-secret")
    wrong = Client(Config())
    for code, body, _ in [wrong.list_buckets(), wrong.stat("public", "x"), wrong.delete("public", "x")]:
        assert code == 401 and body["code"] == 401, body


def test_fmgr_jobs_status_and_notify(emulator, client, put, loopback):
    web = loopback({"logo.png": b"\x89PNG not really"})
    Config.notifyurl = f"{web.url}/notify"
    fops = f"fetchURL/{b64(web.url + '/files/logo.png')}/bucket/{b64('public')}/key/{b64('fetched/logo.png')}"
    code, body, _ = client.fmgr_fetch(fops)
    assert code == 200, body
    pid = body["persistentId"]
    seen, status = wait_job(client.fmgr_status, pid, final=(5, 6))
    assert seen[0] in (0, 1) and seen[-1] == 6, seen
    assert status["id"] == pid and status["items"][0]["code"] == 3, status
    assert client.stat("public", "fetched/logo.png")[1]["fsize"] == len(b"\x89PNG not really")

    # The notification: b64 JSON, signed with the account's key over URL + "\n" + body.
    path, headers, received = web.received[0]
    assert path == "/notify"
    notified = json.loads(base64.urlsafe_b64decode(received))
    assert notified["id"] == pid
    mac = hmac.new(emulator.sk.encode(), f"{Config.notifyurl}\n{received}".encode(), hashlib.sha1).hexdigest()
    assert headers["Authorization"] == f"{emulator.ak}:{b64(mac)}"

    Config.notifyurl = ""
    put("public", "f/a.txt", b"a")
    put("public", "f/b.txt", b"b")
    put("public", "hls/s0.ts", b"0")
    put("public", "hls/index.m3u8", b"#EXTM3U\ns0.ts\n")
    jobs = [
        (client.fmgr_copy, f"resource/{b64('public:f/a.txt')}/bucket/{b64('secret')}/key/{b64('copied.txt')}"),
        (client.fmgr_move, f"resource/{b64('public:f/b.txt')}/bucket/{b64('public')}/key/{b64('moved.txt')}"),
        (client.fmgr_delete, f"bucket/{b64('public')}/key/{b64('moved.txt')}"),
        (client.m3u8_delete, f"bucket/{b64('public')}/key/{b64('hls/index.m3u8')}/deletets/1"),
        (client.prefix_delete, f"bucket/{b64('public')}/prefix/{b64('f/')}"),
    ]
    for call, spec in jobs:
        code, body, _ = call(spec)
        assert code == 200, body
        _, status = wait_job(client.fmgr_status, body["persistentId"])
        assert status["code"] == 3 and status["items"][0]["code"] == 3, status
    assert client.stat("secret", "copied.txt")[0] == 200
    assert client.stat("public", "f/b.txt")[0] == 404
    assert client.stat("public", "moved.txt")[0] == 404
    assert client.stat("public", "hls/s0.ts")[0] == 404
    assert client.stat("public", "f/a.txt")[0] == 404

    # The Fmgr class directly, and a status for an id that does not exist.
    fmgr = Fmgr(Auth(emulator.ak, emulator.sk), emulator.wcs)
    assert fmgr.status("nope")[0] == 404


def test_fmgr_compress_makes_a_zip_that_zipfile_reads(emulator, client, put, tmp_path):
    """`Client.fmgr_compress` (the SDK's `Fmgr.fmgr_compress`, `POST /fmgr/compress`): the
    archive is read back and opened with Python's own `zipfile`, not with yunup's code."""
    put("public", "zip/a.txt", b"alpha")
    put("public", "zip/sub/b.bin", bytes(range(256)) * 64)
    put("public", "one.txt", "ü".encode())
    keys = "|".join(b64(k) for k in ["zip/", "one.txt"])
    code, body, _ = client.fmgr_compress(f"bucket/{b64('public')}/keys/{keys}/saveas/{b64('secret:out/z.zip')}")
    assert code == 200, body
    _, status = wait_job(client.fmgr_status, body["persistentId"])
    item = status["items"][0]
    assert status["code"] == 3 and item["code"] == 3, status
    path = "/secret/out/z.zip"
    token = Auth(emulator.ak, emulator.sk).managertoken(f"{emulator.wcs}{path}")
    r = requests.get(f"{emulator.wcs}{path}", headers={"Authorization": token})
    assert r.status_code == 200, r.text
    (tmp_path / "z.zip").write_bytes(r.content)
    assert item["hash"] == etag(str(tmp_path / "z.zip")) and item["fsize"] == len(r.content)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.testzip() is None
        assert z.namelist() == ["zip/a.txt", "zip/sub/b.bin", "one.txt"]
        assert z.read("zip/sub/b.bin") == bytes(range(256)) * 64
        assert z.read("one.txt") == "ü".encode()

    # A key that does not exist fails the task and writes no archive.
    code, body, _ = client.fmgr_compress(
        f"bucket/{b64('public')}/keys/{b64('nope.txt')}/saveas/{b64('secret:out/nope.zip')}"
    )
    assert code == 200, body
    _, status = wait_job(client.fmgr_status, body["persistentId"])
    assert status["items"][0]["code"] == 2 and "nope.txt" in status["items"][0]["error"], status
    assert client.stat("secret", "out/nope.zip")[0] == 404


def test_persistent_fops_and_prefop_status(client, put):
    put("public", "movie.mp4", b"movie bytes")
    fops = f"vframe/jpg/offset/1|saveas/{b64('public:cover.jpg')}"
    code, body, _ = client.ops_execute(fops, "public", "movie.mp4")
    assert code == 200, body
    _, status = wait_job(client.ops_status, body["persistentId"])
    assert status["inputkey"] == "movie.mp4" and status["inputbucket"] == "public"
    assert status["items"][0]["code"] == 3 and status["items"][0]["key"] == "cover.jpg", status
    assert client.stat("public", "cover.jpg")[0] == 200


def test_wslive_list(client, put):
    put("public", "wslive/cam/20240101080000.flv", b"rec")
    put("public", "wslive/cam/20240105080000.flv", b"rec")
    code, body, _ = client.wslive_list("cam", "20240101000000", "20240102000000", "public")
    assert code == 200, body
    assert [i["key"] for i in body["items"]] == ["wslive/cam/20240101080000.flv"]


def test_bucket_manager_directly(emulator, client, put):
    """The same through `BucketManager`, as the SDK's README shows it."""
    put("public", "bm.txt", b"bm")
    bm = BucketManager(Auth(emulator.ak, emulator.sk), emulator.wcs)
    assert bm.stat("public", "bm.txt")[0] == 200
    assert bm.copy("public", "bm.txt", "public", "bm2.txt")[0] == 200
    assert bm.bucketlist("public", prefix="bm", limit=10)[1]["items"][1]["key"] == "bm2.txt"
    assert bm.setdeadline("public", "bm2.txt", 0)[0] == 200  # 0: delete as soon as possible
    assert bm.stat("public", "bm2.txt")[0] == 404
