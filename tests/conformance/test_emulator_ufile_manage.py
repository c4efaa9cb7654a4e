"""UFile management against the emulator, with the OFFICIAL Python SDK (PyPI `ufile` 3.2.11) unchanged.

Object management goes through `ufile.filemanager.FileManager` (getfilelist and listobjects paged
by their markers, head_file, deletefile, private_download_url and download_file); bucket management
through `ufile.bucketmanager.BucketManager` (createbucket, describebucket, updatebucket,
getfilelist, deletebucket), which signs the UCloud API way (sorted parameters, SHA-1 hex).

Only the hosts differ from production, set through the SDK's configuration: buckets are
`<bucket>.ufile.yunup.invalid` (`ufile.config.set_default(uploadsuffix=, downloadsuffix=)`) and the
API is `http://api.yunup.invalid` (the `UCLOUD_API_URL` setting of `ufile.config`, which
`ufile.bucketmanager` imports by name). `http_proxy` points at the emulator's UFile port, so
`requests` sends absolute-form requests that the emulator routes by host: a bucket's label, or the
API for a host that names no bucket. `.invalid` never resolves, so nothing can leave the machine.
"""

import pytest
import requests
import ufile.bucketmanager
import ufile.config
from ufile import util
from ufile.bucketmanager import BucketManager
from ufile.filemanager import FileManager

SUFFIX = ".ufile.yunup.invalid"
API = "http://api.yunup.invalid"


@pytest.fixture(scope="module")
def sdk(emulator):
    """Point the SDK at the emulator for this module; restore its configuration after."""
    patch = pytest.MonkeyPatch()
    proxy = f"http://127.0.0.1:{emulator.ufile_port}"
    for name in ("http_proxy", "HTTP_PROXY"):
        patch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        patch.setenv(name, "127.0.0.1,localhost")
    patch.setattr(ufile.config, "UCLOUD_API_URL", API)
    patch.setattr(ufile.bucketmanager, "UCLOUD_API_URL", API)
    saved = dict(ufile.config._config)
    ufile.config.set_default(uploadsuffix=SUFFIX, downloadsuffix=SUFFIX)
    yield emulator
    ufile.config._config.clear()
    ufile.config._config.update(saved)
    patch.undo()


def fm(emulator, secret=None):
    return FileManager(emulator.ak, secret or emulator.sk)


def bm(emulator, secret=None):
    return BucketManager(emulator.ak, secret or emulator.sk)


def put(manager, bucket, key, local):
    ret, resp = manager.putfile(bucket, key, local)
    assert resp.status_code == 200, resp.error


def test_getfilelist_pages_by_next_marker(sdk, files):
    manager = fm(sdk)
    local, _ = files("g.txt", 100)
    keys = sorted(f"gfl/k{i:02}.txt" for i in range(17))
    for key in keys:
        put(manager, "public", key, local)
    seen, marker, pages = [], "", 0
    while True:
        ret, resp = manager.getfilelist("public", prefix="gfl/", marker=marker, limit=5)
        assert resp.status_code == 200, resp.error
        pages += 1
        seen += [o["FileName"] for o in ret["DataSet"]]
        assert all(o["Size"] == 100 and o["Hash"] == util.file_etag(local) for o in ret["DataSet"])
        marker = ret["NextMarker"]
        if not marker:
            break
    assert seen == keys
    assert pages == 4


def test_listobjects_pages_by_next_marker_with_directories(sdk, files):
    manager = fm(sdk)
    local, _ = files("o.txt", 10)
    flat = [f"lo/f{i}.txt" for i in range(7)]
    nested = [f"lo/{d}/x.txt" for d in ("a", "b")]
    for key in flat + nested:
        put(manager, "public", key, local)
    contents, prefixes, marker, pages = [], [], "", 0
    while True:
        # The SDK signs its listobjects suffix (§6.4) over all four parameters.
        ret, resp = manager.listobjects("public", prefix="lo/", marker=marker, maxkeys=3, delimiter="/")
        assert resp.status_code == 200, resp.error
        pages += 1
        assert ret["MaxKeys"] == "3"
        contents += [o["Key"] for o in ret["Contents"]]
        prefixes += [p["Prefix"] for p in ret["CommonPrefixes"]]
        if not ret["IsTruncated"]:
            break
        marker = ret["NextMarker"]
    assert contents == flat
    assert prefixes == ["lo/a/", "lo/b/"]
    assert pages == 3
    ret, resp = manager.listobjects("public", prefix="lo/", marker="", maxkeys=100, delimiter="")
    assert resp.status_code == 200, resp.error
    assert [o["Key"] for o in ret["Contents"]] == sorted(flat + nested)
    assert all(o["Size"] == "10" for o in ret["Contents"]), "Size is a string in ListObjects"


def test_head_private_download_and_delete(sdk, files, tmp_path):
    manager = fm(sdk)
    local, data = files("h.bin", 70_000)
    key = "mgmt/head me.bin"
    put(manager, "secret", key, local)

    ret, resp = manager.head_file("secret", key)
    assert resp.status_code == 200, resp.error
    assert int(resp.content_length) == len(data)
    assert resp.etag.strip('"') == util.file_etag(local)

    url = manager.private_download_url("secret", key, expires=60)
    r = requests.get(url)
    assert r.status_code == 200 and r.content == data
    out = str(tmp_path / "ranged.bin")
    ret, resp = manager.download_file("secret", key, out, isprivate=True, content_range=(1000, 1999))
    assert resp.status_code == 206, resp.error
    with open(out, "rb") as f:
        assert f.read() == data[1000:2000]

    ret, resp = manager.deletefile("secret", key)
    assert resp.status_code == 204, resp.error
    ret, resp = manager.head_file("secret", key)
    assert resp.status_code == 404
    assert requests.get(url).status_code == 404


def test_bucket_manager_lifecycle(sdk, files):
    api = bm(sdk)
    name = "py-made-bucket"

    ret, resp = api.createbucket(name, "cn-bj", "public")
    assert resp.status_code == 200, resp.error
    assert ret["RetCode"] == 0, ret
    assert ret["Action"] == "CreateBucketResponse"
    assert ret["BucketName"] == name and ret["BucketId"].startswith("ufile-")

    ret, resp = api.describebucket(name)
    assert ret["RetCode"] == 0, ret
    [info] = ret["DataSet"]
    assert (info["BucketName"], info["Type"], info["Region"]) == (name, "public", "cn-bj")
    ret, resp = api.describebucket(offset=0, limit=10)
    assert {b["BucketName"] for b in ret["DataSet"]} >= {name, "public", "secret"}

    # Usable at once, by the same SDK's object calls; public, so the plain URL works.
    manager = fm(sdk)
    local, data = files("b.txt", 500)
    put(manager, name, "in/new bucket.txt", local)
    r = requests.get(manager.public_download_url(name, "in/new bucket.txt"))
    assert r.status_code == 200 and r.content == data

    ret, resp = api.getfilelist(name, offset=0, limit=10)
    assert ret["RetCode"] == 0, ret
    assert [(f["FileName"], f["Size"]) for f in ret["DataSet"]] == [("in/new bucket.txt", 500)]

    ret, resp = api.updatebucket(name, "private")
    assert ret["RetCode"] == 0, ret
    assert api.describebucket(name)[0]["DataSet"][0]["Type"] == "private"
    assert requests.get(manager.public_download_url(name, "in/new bucket.txt")).status_code == 403
    assert requests.get(manager.private_download_url(name, "in/new bucket.txt")).content == data

    # Refusals: HTTP 200 with the RetCode and a Message.
    ret, resp = api.createbucket(name, "cn-bj", "public")
    assert resp.status_code == 200 and ret["RetCode"] == 15000, ret
    ret, resp = api.createbucket("Not_Valid", "cn-bj", "public")
    assert ret["RetCode"] == 15001, ret
    ret, resp = api.deletebucket(name)
    assert ret["RetCode"] == 15023 and ret["Message"], ret

    assert manager.deletefile(name, "in/new bucket.txt")[1].status_code == 204
    ret, resp = api.deletebucket(name)
    assert ret["RetCode"] == 0, ret
    assert ret["Action"] == "DeleteBucketResponse"
    assert api.describebucket(name)[0]["DataSet"] == []
    ret, resp = api.deletebucket(name)
    assert ret["RetCode"] == 15010, ret


def test_bucket_manager_with_a_wrong_private_key(sdk):
    ret, resp = bm(sdk, secret="wrong-private-key").describebucket(offset=0, limit=10)
    assert resp.status_code == 200
    assert ret["RetCode"] == 171, ret
    assert "DataSet" not in ret
    ret, resp = bm(sdk, secret="wrong-private-key").createbucket("never-made", "cn-bj", "public")
    assert ret["RetCode"] == 171
    assert bm(sdk).describebucket("never-made")[0]["DataSet"] == []
