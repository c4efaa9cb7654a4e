"""The emulated WCS against the official `wcs-python3-sdk` from PyPI, unchanged.

Only the SDK's own settings are touched (`Config.put_url` / `mgr_url` pointing at the emulator,
the key pair, block/chunk sizes) plus `no_proxy` so that `requests` talks to 127.0.0.1 directly
(protocols/official-sdk-requests.md). Objects are read back through the SDK's `stat` and the
emulator's download route `GET /<bucket>/<key>`.
"""
import base64
import random
from urllib.parse import quote

import pytest
import requests
from wcs.commons.config import Config
from wcs.commons.util import etag
from wcs.services.client import Client

MIB = 1024 * 1024


@pytest.fixture
def client(emulator, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    settings = {
        "access_key": emulator.ak,
        "secret_key": emulator.sk,
        "put_url": emulator.wcs,
        "mgr_url": emulator.wcs,
        "block_size": 4 * MIB,
        "bput_size": 1 * MIB,  # several bput calls per block
        "concurrency": 4,
        "overwrite": 0,
        "returnUrl": "",
        "returnBody": "",
        "callbackUrl": "",
        "deadline": 3600,
    }
    for name, value in settings.items():
        monkeypatch.setattr(Config, name, value)
    return Client(Config())


def drain_log(emulator, until, seconds=5.0):
    """Request log lines of the emulator (`wcs POST /bput/... 200 ...`) until `until(lines)`."""
    import queue
    import time

    lines, deadline = [], time.monotonic() + seconds
    while not until(lines) and time.monotonic() < deadline:
        try:
            lines.append(emulator.lines.get(timeout=0.1))
        except queue.Empty:
            pass
    return lines


def calls(lines, what):
    return [line for line in lines if line.startswith(f"wcs POST /{what}/") and " 200 " in line]


def read_back(emulator, bucket, key):
    r = requests.get(f"{emulator.wcs}/{bucket}/{quote(key)}", proxies={"http": None}, timeout=60)
    assert r.status_code == 200, r.text
    return r.content


def test_form_upload_of_a_small_file(client, emulator, tmp_path):
    content = b"hello from the official WCS SDK\n" * 3
    path = tmp_path / "small.txt"
    path.write_bytes(content)
    key = "sdk/form 文件.txt"  # the SDK signs the raw key in the scope, sends it quoted as filename

    code, text, headers = client.simple_upload(str(path), "public", key)
    assert code == 200, text
    assert headers["x-reqid"] not in ("", "None")
    assert base64.urlsafe_b64decode(text).decode() == f"hash={etag(str(path))}"

    code, stat, _ = client.stat("public", key)
    assert code == 200, stat
    assert stat["hash"] == etag(str(path))
    assert stat["fsize"] == len(content)
    assert read_back(emulator, "public", key) == content

    # The same key again without overwrite: 406 with a JSON error body.
    code, text, _ = client.simple_upload(str(path), "public", key)
    assert code == 406
    assert "exists" in text


def test_slice_upload_over_8_mib(client, emulator, tmp_path):
    content = random.Random(20240607).randbytes(9 * MIB + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    key = "sdk/multipart.bin"
    drain_log(emulator, lambda lines: False, seconds=0.2)

    code, body, headers = client.multipart_upload(str(path), "public", key)
    assert code == 200, body
    # Three blocks (4 MiB, 4 MiB, 1 MiB + 123) in 1 MiB chunks: 3 mkblk, 3 + 3 + 1 bput, 1 mkfile.
    log = drain_log(emulator, lambda lines: len(calls(lines, "mkfile")) == 1)
    assert (len(calls(log, "mkblk")), len(calls(log, "bput")), len(calls(log, "mkfile"))) == (3, 7, 1), log
    assert headers["x-reqid"] not in ("", "None")
    assert body["hash"] == etag(str(path))
    assert body["key"] == key

    code, stat, _ = client.stat("public", key)
    assert code == 200, stat
    assert (stat["hash"], stat["fsize"]) == (etag(str(path)), len(content))
    assert read_back(emulator, "public", key) == content


def test_smart_upload_takes_the_slice_path(client, emulator, tmp_path):
    content = random.Random(7).randbytes(5 * MIB + 1)
    path = tmp_path / "smart.bin"
    path.write_bytes(content)

    code, body, _ = client.smart_upload(str(path), "public", "sdk/smart.bin", multi_size=1)
    assert code == 200, body
    assert body["hash"] == etag(str(path))
    assert read_back(emulator, "public", "sdk/smart.bin") == content
