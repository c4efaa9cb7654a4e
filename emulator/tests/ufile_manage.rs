//! UFile management from Rust, through `yunup::manage::ufile::UfileManager` over
//! `ReqwestTransport`, against a real emulator: HEAD, URLs, delete, upload-hit, both listings
//! paged across several pages (fetched on demand), ranged, streamed, resumed and interrupted
//! downloads (byte-identical), the bucket lifecycle through the UCloud API (persisting across a
//! restart), and the errors (bad signatures on both schemes, unknown keys and actions, missing
//! buckets). Each test starts its own emulator.

mod common;

use std::pin::pin;

use common::{AK, Emulator, SK, temp_data_dir};
use futures_util::{StreamExt, TryStreamExt};
use yunup::ErrorKind;
use yunup::engine::Transport;
use yunup::hash::{Hasher, UfileEtag};
use yunup::manage::ufile::{BucketType, ListItem, UfileManager};
use yunup::runtime::native::ReqwestTransport;
use yunup::service::{HttpRequest, HttpResponse, Method};
use yunup::sign::Credentials;
use yunup::sign::ufile::{SignRequest, authorization};

const MIB: usize = 1024 * 1024;

/// Deterministic pseudo-random bytes.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Sends `<bucket>.localhost` requests to 127.0.0.1 with that Host (`*.localhost` does not resolve
/// everywhere): virtual-host addressing without DNS.
#[derive(Clone)]
struct Vhost {
    inner: ReqwestTransport,
    bucket: String,
}

impl Transport for Vhost {
    async fn send(&self, mut request: HttpRequest) -> yunup::Result<HttpResponse> {
        let host = format!("{}.localhost", self.bucket);
        request.url = request.url.replacen(&host, "127.0.0.1", 1);
        self.inner.send(request.header("Host", host)).await
    }
}

fn creds() -> Credentials {
    Credentials::new(AK, SK)
}

/// Path style: `http://127.0.0.1:port/<bucket>`.
fn manager(emu: &Emulator, bucket: &str) -> UfileManager<ReqwestTransport> {
    UfileManager::new(ReqwestTransport::new().unwrap(), creds(), format!("{}/{bucket}", emu.ufile), bucket)
        .with_api_url(&emu.ufile)
}

/// Virtual-host style: `http://<bucket>.localhost:port`.
fn vhost_manager(emu: &Emulator, bucket: &str) -> UfileManager<Vhost> {
    let transport = Vhost { inner: ReqwestTransport::new().unwrap(), bucket: bucket.to_owned() };
    UfileManager::new(transport, creds(), emu.ufile_vhost(bucket), bucket).with_api_url(&emu.ufile)
}

/// PUT an object (path style), with extra headers.
async fn put(emu: &Emulator, bucket: &str, key: &str, body: &[u8], mime: &str, extra: &[(&str, &str)]) {
    let auth = authorization(
        &creds(),
        &SignRequest {
            method: "PUT".into(),
            bucket: bucket.into(),
            key: key.into(),
            content_type: mime.into(),
            ..Default::default()
        },
    )
    .unwrap();
    let url = format!("{}/{bucket}/{}", emu.ufile, yunup::encoding::percent_encode(key, true));
    let mut request = HttpRequest::new(Method::Put, url)
        .header("Content-Type", mime)
        .header("Authorization", auth)
        .body(body.to_vec());
    for (k, v) in extra {
        request = request.header(k, *v);
    }
    let r = ReqwestTransport::new().unwrap().send(request).await.unwrap();
    assert_eq!(r.status, 200, "PUT {key}: {}", r.text());
}

async fn plain_get(url: &str) -> HttpResponse {
    ReqwestTransport::new().unwrap().send(HttpRequest::new(Method::Get, url)).await.unwrap()
}

/// Requests that reached the UFile port after `since`, as `(method, target)`.
async fn ufile_requests(emu: &Emulator, since: u64) -> (u64, Vec<(String, String)>) {
    let r = plain_get(&format!("{}/admin/requests?since={since}", emu.demo)).await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let list = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["service"] == "ufile")
        .map(|r| (r["method"].as_str().unwrap().to_owned(), r["target"].as_str().unwrap().to_owned()))
        .collect();
    (v["last"].as_u64().unwrap(), list)
}

async fn set_faults(emu: &Emulator, json: &str) {
    let request = HttpRequest::new(Method::Put, format!("{}/admin/faults", emu.demo))
        .header("Content-Type", "application/json")
        .body(json.to_owned());
    let r = ReqwestTransport::new().unwrap().send(request).await.unwrap();
    assert!(r.is_success(), "{}", r.text());
}

#[tokio::test]
async fn head_urls_delete_and_upload_hit() {
    let emu = Emulator::fresh("ufile-manage-objects", &[]);
    let body = data(300_000, 1);
    let key = "docs/a b+c 中文.txt";
    put(&emu, "secret", key, &body, "text/plain", &[("X-Ufile-Meta-Owner", "alice"), ("X-Ufile-Storage-Class", "IA")])
        .await;

    for (style, info) in [
        ("path", manager(&emu, "secret").head(key).await.unwrap()),
        ("vhost", vhost_manager(&emu, "secret").head(key).await.unwrap()),
    ] {
        let info = info.unwrap_or_else(|| panic!("{style}: the object is there"));
        assert_eq!(info.key, key);
        assert_eq!(info.size, body.len() as u64, "{style}");
        assert_eq!(info.etag, UfileEtag::digest(&body), "{style}");
        assert_eq!(info.mime, "text/plain");
        assert_eq!(info.storage_class.as_deref(), Some("IA"));
        assert_eq!(info.user_meta.get("owner").map(String::as_str), Some("alice"));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(info.last_modified_secs.is_some_and(|t| t.abs_diff(now) < 120), "{info:?}");
        assert_eq!(info.create_time, info.last_modified_secs);
    }
    let m = manager(&emu, "secret");
    assert_eq!(m.head("docs/missing").await.unwrap(), None);

    // URLs: the private bucket needs the signed one; the public bucket serves the plain one.
    let r = plain_get(&m.private_url_valid_for(key, 60).unwrap()).await;
    assert_eq!((r.status, &r.body[..]), (200, &body[..]));
    assert_eq!(plain_get(&m.public_url(key)).await.status, 403);
    let expired = m.private_url(key, 1).unwrap();
    assert_eq!(plain_get(&expired).await.status, 403);
    put(&emu, "public", "p.txt", b"open", "text/plain", &[]).await;
    let r = plain_get(&manager(&emu, "public").public_url("p.txt")).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"open"[..]));

    // Upload-hit: the content exists, so another key is made from it; unknown content misses.
    let etag = UfileEtag::digest(&body);
    assert!(m.upload_hit("copies/hit.txt", &etag, body.len() as u64, "text/plain").await.unwrap());
    assert_eq!(m.head("copies/hit.txt").await.unwrap().unwrap().etag, etag);
    let other = UfileEtag::digest(b"never uploaded");
    assert!(!m.upload_hit("copies/miss.txt", &other, 14, "").await.unwrap());
    assert_eq!(m.head("copies/miss.txt").await.unwrap(), None);

    // Delete: 204, also for a key that is not there.
    m.delete(key).await.unwrap();
    assert_eq!(m.head(key).await.unwrap(), None);
    m.delete(key).await.unwrap();
    vhost_manager(&emu, "secret").delete("copies/hit.txt").await.unwrap();
    assert_eq!(m.head("copies/hit.txt").await.unwrap(), None);
}

#[tokio::test]
async fn listings_page_across_several_pages_on_demand() {
    let emu = Emulator::fresh("ufile-manage-list", &[]);
    let mut keys = Vec::new();
    for i in 0..23 {
        keys.push(format!("list/f{i:02}.txt"));
    }
    for d in ["a", "b", "c"] {
        for i in 0..3 {
            keys.push(format!("list/{d}/g{i}.txt"));
        }
    }
    keys.push("other/x.txt".into());
    for (i, key) in keys.iter().enumerate() {
        put(&emu, "public", key, format!("body {i}").as_bytes(), "text/plain", &[]).await;
    }
    let mut under_list: Vec<String> = keys.iter().filter(|k| k.starts_with("list/")).cloned().collect();
    under_list.sort();
    let m = manager(&emu, "public");

    // The prefix list: 32 keys in pages of 5 = 7 requests, all in key order.
    let (mark, _) = ufile_requests(&emu, 0).await;
    let all: Vec<_> = m.prefix_list("list/", 5).try_collect().await.unwrap();
    assert_eq!(all.iter().map(|e| e.key.clone()).collect::<Vec<_>>(), under_list);
    let f09 = all.iter().find(|e| e.key == "list/f09.txt").unwrap();
    assert_eq!((f09.size, f09.mime.as_deref()), (Some(6), Some("text/plain")));
    assert_eq!(f09.etag.as_deref(), Some(UfileEtag::digest(b"body 9").as_str()), "{f09:?}");
    let (mark2, requests) = ufile_requests(&emu, mark).await;
    assert_eq!(requests.len(), 7, "{requests:?}");
    assert!(requests.iter().all(|(m, t)| m == "GET" && t.contains("?list&prefix=list%2F")));

    // Pages are fetched on demand: taking 6 items costs 2 requests.
    let first: Vec<_> = m.prefix_list("list/", 5).take(6).try_collect().await.unwrap();
    assert_eq!(first.len(), 6);
    let (mark3, requests) = ufile_requests(&emu, mark2).await;
    assert_eq!(requests.len(), 2, "{requests:?}");

    // ListObjects with a delimiter: 23 files and 3 directories in pages of 4.
    let items: Vec<ListItem> = m.list_objects("list/", "/", 4).try_collect().await.unwrap();
    let files: Vec<&str> =
        items.iter().filter_map(|i| if let ListItem::Object(o) = i { Some(o.key.as_str()) } else { None }).collect();
    let dirs: Vec<&str> =
        items.iter().filter_map(|i| if let ListItem::CommonPrefix(p) = i { Some(p.as_str()) } else { None }).collect();
    assert_eq!(files.len(), 23);
    assert!(files.iter().all(|k| k.matches('/').count() == 1));
    assert_eq!(dirs, ["list/a/", "list/b/", "list/c/"]);
    let (_, requests) = ufile_requests(&emu, mark3).await;
    assert_eq!(requests.len(), 7, "26 entries in pages of 4: {requests:?}");

    // Without a delimiter, everything under the prefix; one page by hand.
    let flat: Vec<ListItem> = m.list_objects("list/", "", 10).try_collect().await.unwrap();
    assert_eq!(flat.len(), 32);
    let page = m.list_objects_page("list/", "", "", 10).await.unwrap();
    assert!(page.is_truncated);
    assert_eq!(page.objects.len(), 10);
    assert_eq!(page.next_marker, page.objects[9].key);
    let page = m.prefix_list_page("", "", 1000).await.unwrap();
    assert_eq!((page.entries.len(), page.next_marker.as_deref()), (33, Some("")));

    // GetFileList (UCloud API) pages by offset.
    let list = m.get_file_list("public", 30, 10).await.unwrap();
    assert_eq!(list.bucket_name, "public");
    assert_eq!(
        list.data_set.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["list/f21.txt", "list/f22.txt", "other/x.txt"]
    );
}

#[tokio::test]
async fn ranged_streamed_and_resumed_downloads_are_byte_identical() {
    let emu = Emulator::fresh("ufile-manage-download", &[]);
    let body = data(9 * MIB + 12_345, 3);
    put(&emu, "secret", "big/file.bin", &body, "application/octet-stream", &[]).await;
    let m = manager(&emu, "secret");

    // Ranges.
    let chunk = m.fetch_range("big/file.bin", 100, Some(199)).await.unwrap();
    assert_eq!((chunk.start, chunk.total, &chunk.data[..]), (100, body.len() as u64, &body[100..200]));
    assert_eq!(chunk.etag, UfileEtag::digest(&body));
    let tail = m.fetch_range("big/file.bin", 9 * MIB as u64, None).await.unwrap();
    assert_eq!(&tail.data[..], &body[9 * MIB..]);
    let err = m.fetch_range("big/file.bin", body.len() as u64, None).await.unwrap_err();
    assert_eq!(err.status(), Some(416));

    // The stream, from 0 (hash-checked) and from the middle.
    let chunks: Vec<_> = m.download_stream("big/file.bin", 0, MIB as u64).try_collect().await.unwrap();
    assert_eq!(chunks.len(), 10);
    assert_eq!(chunks.concat(), body);
    let rest: Vec<_> =
        m.download_stream("big/file.bin", 5 * MIB as u64 + 7, 2 * MIB as u64).try_collect().await.unwrap();
    assert_eq!(rest.concat(), &body[5 * MIB + 7..]);

    // To a file; then resumed from the part an earlier download left, fetching only the rest.
    let dir = temp_data_dir("ufile-manage-download-files");
    let path = dir.join("out.bin");
    let part = dir.join("out.bin.yunup-part");
    let report = m.download_to_file("big/file.bin", &path, 4 * MIB as u64).await.unwrap();
    assert_eq!((report.size, report.resumed_from), (body.len() as u64, 0));
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert!(!part.exists(), "the part became the file");

    std::fs::write(&part, &body[..3 * MIB + 5]).unwrap();
    let (mark, _) = ufile_requests(&emu, 0).await;
    let report = m.download_to_file("big/file.bin", &path, 4 * MIB as u64).await.unwrap();
    assert_eq!(report.resumed_from, 3 * MIB as u64 + 5);
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert!(!part.exists());
    let (_, requests) = ufile_requests(&emu, mark).await;
    assert_eq!(
        requests.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
        ["HEAD", "GET", "GET"],
        "HEAD, then the 6 MiB that were missing in two ranges"
    );

    // A prefix from other content is detected by the final hash and the download starts over.
    let mut wrong = body[..2 * MIB].to_vec();
    wrong[1000] ^= 0xff;
    std::fs::write(&part, &wrong).unwrap();
    let report = m.download_to_file("big/file.bin", &path, 4 * MIB as u64).await.unwrap();
    assert_eq!(report.resumed_from, 0);
    assert_eq!(std::fs::read(&path).unwrap(), body);
    // A longer part is not a prefix, and a file of other bytes is not the object: both replaced.
    std::fs::write(&part, data(body.len() + 10, 9)).unwrap();
    m.download_to_file("big/file.bin", &path, 4 * MIB as u64).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    std::fs::write(&path, data(body.len(), 9)).unwrap();
    let report = m.download_to_file("big/file.bin", &path, 4 * MIB as u64).await.unwrap();
    assert_eq!((report.resumed_from, std::fs::read(&path).unwrap()), (0, body.clone()));
    // Complete already: nothing is fetched but HEAD.
    let report = m.download_to_file("big/file.bin", &path, 4 * MIB as u64).await.unwrap();
    assert_eq!(report.resumed_from, body.len() as u64);

    // Interrupted downloads (replies cut off halfway) leave a part and no file; calling again
    // resumes.
    std::fs::remove_file(&path).unwrap();
    set_faults(&emu, r#"{"seed":11,"truncateRate":0.4,"services":["ufile"],"pathContains":"big/file.bin"}"#).await;
    let (mut failures, mut resumed) = (0, 0);
    let mut done = None;
    for _ in 0..60 {
        match m.download_to_file("big/file.bin", &path, MIB as u64).await {
            Ok(report) => {
                done = Some(report);
                break;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Network, "{e}");
                failures += 1;
                assert!(!path.exists(), "no file until the download is complete");
                let on_disk = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
                if on_disk > 0 {
                    resumed += 1;
                }
            }
        }
    }
    set_faults(&emu, "{}").await;
    let done = done.expect("the download finishes eventually");
    assert!(failures > 0 && resumed > 0, "failures {failures}, resumed {resumed}");
    assert!(done.resumed_from > 0);
    assert_eq!(std::fs::read(&path).unwrap(), body);

    // An empty object and a missing one.
    put(&emu, "secret", "empty", b"", "text/plain", &[]).await;
    let report = m.download_to_file("empty", dir.join("empty"), MIB as u64).await.unwrap();
    assert_eq!(report.size, 0);
    assert_eq!(std::fs::read(dir.join("empty")).unwrap(), b"");
    let err = m.download_to_file("nope", dir.join("nope"), MIB as u64).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    let mut stream = pin!(m.download_stream("nope", 0, MIB as u64));
    assert_eq!(stream.next().await.unwrap().unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn bucket_lifecycle_through_the_ucloud_api() {
    let data_dir = temp_data_dir("ufile-manage-buckets");
    let emu = Emulator::start(&data_dir, &[]);
    let api = manager(&emu, "public");

    let created = api.create_bucket("made-here", BucketType::Public, "cn-gd").await.unwrap();
    assert_eq!((created.action.as_str(), created.bucket_name.as_str()), ("CreateBucketResponse", "made-here"));
    assert!(created.bucket_id.starts_with("ufile-"));
    let info = api.describe_bucket("made-here").await.unwrap().unwrap();
    assert_eq!((info.bucket_type.as_str(), info.region.as_str()), ("public", "cn-gd"));
    assert_eq!(info.bucket_id, created.bucket_id);
    assert_eq!(info.domain.unwrap().src, ["made-here.cn-gd.ufileos.com"]);

    // Usable for uploads and listings at once.
    put(&emu, "made-here", "k.txt", b"fresh", "text/plain", &[]).await;
    let m = manager(&emu, "made-here");
    assert_eq!(plain_get(&m.public_url("k.txt")).await.body, &b"fresh"[..]);
    let files = api.get_file_list("made-here", 0, 10).await.unwrap();
    assert_eq!(files.data_set.len(), 1);
    assert_eq!(files.data_set[0].etag.as_deref(), Some(UfileEtag::digest(b"fresh").as_str()));

    // Private now: the plain URL is refused, the signed one works.
    let updated = api.update_bucket("made-here", BucketType::Private).await.unwrap();
    assert_eq!(updated.action, "UpdateBucketResponse");
    assert!(api.describe_bucket("made-here").await.unwrap().unwrap().is_private());
    assert_eq!(plain_get(&m.public_url("k.txt")).await.status, 403);
    assert_eq!(plain_get(&m.private_url_valid_for("k.txt", 60).unwrap()).await.status, 200);

    // Refusals carry the RetCode.
    let code = |e: yunup::Error| e.code().unwrap_or("").to_owned();
    assert_eq!(code(api.create_bucket("made-here", BucketType::Public, "").await.unwrap_err()), "15000");
    assert_eq!(code(api.create_bucket("Bad_Name", BucketType::Public, "").await.unwrap_err()), "15001");
    assert_eq!(code(api.create_bucket("ab", BucketType::Public, "").await.unwrap_err()), "15001");
    let not_empty = api.delete_bucket("made-here").await.unwrap_err();
    assert_eq!((not_empty.kind(), code(not_empty)), (ErrorKind::InvalidInput, "15023".to_owned()));
    assert_eq!(code(api.update_bucket("no-such", BucketType::Public).await.unwrap_err()), "15010");
    assert_eq!(code(api.get_file_list("no-such", 0, 1).await.unwrap_err()), "15010");
    assert_eq!(api.describe_bucket("no-such").await.unwrap(), None);
    let bad_type: yunup::Result<serde_json::Value> =
        api.call_api("UpdateBucket", &[("BucketName", "made-here"), ("Type", "secret")]).await;
    assert_eq!(code(bad_type.unwrap_err()), "15003");

    // Every bucket, in pages of 2.
    let names: Vec<String> = api.buckets(2).map_ok(|b| b.bucket_name).try_collect().await.unwrap();
    assert_eq!(names, ["made-here", "public", "secret"]);
    let page = api.describe_buckets(1, 1).await.unwrap();
    assert_eq!(page.data_set.iter().map(|b| b.bucket_name.as_str()).collect::<Vec<_>>(), ["public"]);

    // Buckets persist across a restart.
    drop(api);
    drop(m);
    emu.kill();
    let emu = Emulator::start(&data_dir, &[]);
    let api = manager(&emu, "public");
    let info = api.describe_bucket("made-here").await.unwrap().expect("the bucket survived the restart");
    assert!(info.is_private());
    assert_eq!(info.region, "cn-gd");
    let m = manager(&emu, "made-here");
    assert_eq!(plain_get(&m.private_url_valid_for("k.txt", 60).unwrap()).await.body, &b"fresh"[..]);

    // Empty it, then delete it.
    m.delete("k.txt").await.unwrap();
    let deleted = api.delete_bucket("made-here").await.unwrap();
    assert_eq!((deleted.action.as_str(), deleted.bucket_name.as_str()), ("DeleteBucketResponse", "made-here"));
    assert_eq!(api.describe_bucket("made-here").await.unwrap(), None);
    assert_eq!(code(api.delete_bucket("made-here").await.unwrap_err()), "15010");
    let gone = m.prefix_list_page("", "", 10).await.unwrap_err();
    assert_eq!((gone.status(), gone.code()), (Some(404), Some("-30010")));
    // The name is free again.
    api.create_bucket("made-here", BucketType::Private, "").await.unwrap();
    assert_eq!(api.describe_bucket("made-here").await.unwrap().unwrap().region, "cn-bj");
}

#[tokio::test]
async fn errors_carry_codes_and_say_what_to_fix() {
    let emu = Emulator::fresh("ufile-manage-errors", &[]);
    put(&emu, "secret", "k", b"x", "text/plain", &[]).await;
    let wrong = UfileManager::new(
        ReqwestTransport::new().unwrap(),
        Credentials::new(AK, "wrong-secret"),
        format!("{}/secret", emu.ufile),
        "secret",
    )
    .with_api_url(&emu.ufile);

    // Object API: 403, RetCode -148658, X-SessionId.
    let err = wrong.delete("k").await.unwrap_err();
    assert_eq!((err.kind(), err.status(), err.code()), (ErrorKind::Auth, Some(403), Some("-148658")));
    assert!(err.request_id().is_some_and(|id| !id.is_empty()));
    assert!(!err.message().contains("wrong-secret"), "no secrets in messages");
    let err = wrong.prefix_list_page("", "", 10).await.unwrap_err();
    assert_eq!(err.code(), Some("-148658"));
    let mut listing = pin!(wrong.list_objects("", "/", 10));
    assert_eq!(listing.next().await.unwrap().unwrap_err().code(), Some("-148658"));
    assert!(listing.next().await.is_none(), "the stream ends after the error");
    let err = wrong.fetch_range("k", 0, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(manager(&emu, "secret").head("k").await.unwrap().unwrap().size, 1, "nothing was deleted");

    // UCloud API: HTTP 200 with RetCode 171 (bad signature), 172 (unknown key), 161 (action).
    let err = wrong.create_bucket("never-made", BucketType::Public, "").await.unwrap_err();
    assert_eq!((err.kind(), err.code(), err.status()), (ErrorKind::Auth, Some("171"), Some(200)));
    assert!(!err.message().contains("wrong-secret"));
    let stranger = UfileManager::new(ReqwestTransport::new().unwrap(), Credentials::new("nobody", SK), "http://x", "x")
        .with_api_url(&emu.ufile);
    assert_eq!(stranger.describe_buckets(0, 10).await.unwrap_err().code(), Some("172"));
    let m = manager(&emu, "secret");
    let unknown: yunup::Result<serde_json::Value> = m.call_api("DescribeUHostInstance", &[]).await;
    assert_eq!(unknown.unwrap_err().code(), Some("161"));
    assert_eq!(m.describe_bucket("never-made").await.unwrap(), None);

    // A bucket that does not exist: -30010.
    let missing = manager(&emu, "no-such-bucket");
    let err = missing.prefix_list_page("", "", 10).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("-30010")));
    assert!(err.message().contains("no such bucket"), "{}", err.message());
    assert!(missing.delete("k").await.is_err());
}
