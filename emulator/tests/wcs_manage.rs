//! WCS management from Rust, through `WcsManager<ReqwestTransport>`, against a real emulator:
//! buckets, paged listings (flat and directory modes), stat, copy, move, delete, setdeadline,
//! fmgr jobs (with a loopback source and notify receiver), fops and prefop status,
//! persistentOps, wslive, errors, and jobs that survive a `kill -9`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{AK, Emulator, SK, temp_data_dir};
use futures_util::StreamExt;
use yunup::ErrorKind;
use yunup::encoding::urlsafe_b64;
use yunup::hash::{Hasher, Md5};
use yunup::manage::wcs::{
    FmgrTask, Fop, Fops, JobKind, JobOptions, JobState, JobStatus, ListMode, ListQuery, WcsManager, WsliveQuery,
    is_not_found,
};
use yunup::runtime::native::{ReqwestTransport, TokioRuntime};
use yunup::sign::Credentials;
use yunup::sign::wcs::{PutPolicy, upload_token};

type Manager = WcsManager<ReqwestTransport>;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn creds() -> Credentials {
    Credentials::new(AK, SK)
}

fn manager(emu: &Emulator) -> Manager {
    WcsManager::new(ReqwestTransport::new().unwrap(), creds(), &emu.wcs)
}

/// Form-upload `content` as `bucket:key` (the token's scope names the key).
async fn put_with(emu: &Emulator, policy: &PutPolicy, content: &[u8]) -> String {
    let boundary = "----yunupManageTest";
    let token = upload_token(&creds(), policy).unwrap();
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = reqwest::Client::new()
        .post(format!("{}/file/upload", emu.wcs))
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "upload of {}", policy.scope);
    let text = r.text().await.unwrap();
    String::from_utf8(yunup::encoding::decode_base64_lenient(&text).unwrap()).unwrap()
}

async fn put(emu: &Emulator, bucket: &str, key: &str, content: &[u8]) {
    let mut policy = PutPolicy::new(format!("{bucket}:{key}"), now_ms() + 3_600_000);
    policy.overwrite = Some(1);
    put_with(emu, &policy, content).await;
}

/// Read an object back (signed, for private buckets; keys here need no escaping).
async fn download(emu: &Emulator, bucket: &str, key: &str) -> Vec<u8> {
    let path = format!("/{bucket}/{key}");
    let auth = yunup::sign::wcs::management_token(&creds(), &path, b"");
    let r =
        reqwest::Client::new().get(format!("{}{path}", emu.wcs)).header("Authorization", auth).send().await.unwrap();
    assert_eq!(r.status(), 200, "{bucket}/{key}");
    r.bytes().await.unwrap().to_vec()
}

fn etag(data: &[u8]) -> String {
    let mut h = yunup::hash::WcsEtag::default();
    h.update(data);
    h.finalize()
}

async fn keys(m: &Manager, query: ListQuery) -> Vec<String> {
    m.list(query).map(|item| item.unwrap().key).collect().await
}

// ---- a loopback HTTP server: files to fetch, notifications to receive ----------------------------

#[derive(Clone, Debug)]
struct Received {
    path: String,
    authorization: String,
    content_type: String,
    body: String,
}

struct Loopback {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

/// `GET /files/<name>` serves `files`; `POST /notify` records and answers 200; `POST /fail`
/// records and answers 500.
async fn loopback(files: Vec<(&'static str, Vec<u8>)>) -> Loopback {
    use axum::extract::Path;
    use axum::http::{HeaderMap, StatusCode, Uri};
    let received = Arc::new(Mutex::new(Vec::new()));
    let files = Arc::new(files);
    let record = |status: StatusCode, log: Arc<Mutex<Vec<Received>>>| {
        move |uri: Uri, headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                log.lock().unwrap().push(Received {
                    path: uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                    authorization: h("authorization"),
                    content_type: h("content-type"),
                    body,
                });
                (status, "ok")
            }
        }
    };
    let app = axum::Router::new()
        .route(
            "/files/{name}",
            axum::routing::get(move |Path(name): Path<String>| {
                let files = files.clone();
                async move {
                    match files.iter().find(|(n, _)| *n == name) {
                        Some((_, data)) => (StatusCode::OK, data.clone()),
                        None => (StatusCode::NOT_FOUND, b"no such file".to_vec()),
                    }
                }
            }),
        )
        .route("/notify", axum::routing::post(record(StatusCode::OK, received.clone())))
        .route("/fail", axum::routing::post(record(StatusCode::INTERNAL_SERVER_ERROR, received.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Loopback { url, received }
}

/// Poll a job every 20 ms until `done(state)`; the status then, and the distinct codes seen.
async fn poll(m: &Manager, kind: JobKind, id: &str, done: fn(JobState) -> bool) -> (JobStatus, Vec<i64>) {
    let mut seen: Vec<i64> = Vec::new();
    let deadline = now_ms() + 30_000;
    loop {
        let status = match kind {
            JobKind::Fmgr => m.fmgr_status(id).await.unwrap(),
            JobKind::Fops => m.fops_status(id).await.unwrap(),
        };
        let code = status.code.unwrap();
        if seen.last() != Some(&code) {
            seen.push(code);
        }
        if done(status.state()) {
            return (status, seen);
        }
        assert!(now_ms() < deadline, "job {id} stuck at {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A job without a notify URL: until it is done (3).
async fn watch(m: &Manager, kind: JobKind, id: &str) -> (JobStatus, Vec<i64>) {
    poll(m, kind, id, JobState::is_finished).await
}

/// A job with a notify URL: until the notification is over (5 or 6).
async fn wait_notified(m: &Manager, kind: JobKind, id: &str) -> (JobStatus, Vec<i64>) {
    poll(m, kind, id, |s| matches!(s, JobState::Notified | JobState::NotifyFailed)).await
}

// ---- tests ----------------------------------------------------------------------------------------

#[tokio::test]
async fn buckets_stat_copy_move_delete_and_deadlines() {
    let emu = Emulator::fresh("wcs-manage-objects", &[]);
    let m = manager(&emu);
    let names: Vec<String> = m.buckets().await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["public", "secret"]);

    put(&emu, "public", "docs/a.txt", b"hello world").await;
    let stat = m.stat("public", "docs/a.txt").await.unwrap();
    assert_eq!(
        (stat.key.as_str(), stat.fsize, stat.hash.as_str()),
        ("docs/a.txt", Some(11), etag(b"hello world").as_str())
    );
    assert_eq!(stat.mime_type.as_deref(), Some("text/plain"));
    assert!(stat.put_time.unwrap() > now_ms() - 60_000);
    assert_eq!(stat.expiration_date.as_deref(), Some(""));
    assert!(!stat.appendable);

    // Copy across buckets; the copy is independent of the source.
    m.copy("public", "docs/a.txt", "secret", "copy.txt").await.unwrap();
    assert_eq!(m.stat("secret", "copy.txt").await.unwrap().hash, stat.hash);
    // Copy onto an existing object replaces it.
    put(&emu, "public", "other.txt", b"other").await;
    m.copy("public", "other.txt", "secret", "copy.txt").await.unwrap();
    assert_eq!(m.stat("secret", "copy.txt").await.unwrap().fsize, Some(5));
    assert_eq!(m.stat("public", "docs/a.txt").await.unwrap().fsize, Some(11));

    // Move renames: the source is gone, the upload time is kept.
    m.move_object("public", "docs/a.txt", "public", "docs/b.txt").await.unwrap();
    let err = m.stat("public", "docs/a.txt").await.unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
    assert_eq!((err.status(), err.code()), (Some(404), Some("404")));
    assert!(err.request_id().is_some());
    let moved = m.stat("public", "docs/b.txt").await.unwrap();
    assert_eq!((moved.hash.as_str(), moved.put_time), (stat.hash.as_str(), stat.put_time));
    assert_eq!(download(&emu, "public", "docs/b.txt").await, b"hello world");

    // Deadlines: N days from upload, -1 clears, 0 deletes.
    m.set_deadline("public", "docs/b.txt", 3, None).await.unwrap();
    let expiring = m.stat("public", "docs/b.txt").await.unwrap();
    let date = expiring.expiration_date.unwrap();
    assert_eq!(date.len(), "2024-01-01 00:00:00".len(), "{date}");
    m.set_deadline("public", "docs/b.txt", -1, None).await.unwrap();
    assert_eq!(m.stat("public", "docs/b.txt").await.unwrap().expiration_date.as_deref(), Some(""));
    m.set_deadline("public", "docs/b.txt", 0, None).await.unwrap();
    assert!(is_not_found(&m.stat("public", "docs/b.txt").await.unwrap_err()));

    // An m3u8 takes its segments along unless relevance=0.
    put(&emu, "public", "hls/s0.ts", b"ts0").await;
    put(&emu, "public", "hls/s1.ts", b"ts1").await;
    put(&emu, "public", "hls/index.m3u8", b"#EXTM3U\n#EXTINF:1,\ns0.ts\n#EXTINF:1,\n/hls/s1.ts\n#EXT-X-ENDLIST\n")
        .await;
    m.set_deadline("public", "hls/index.m3u8", 7, None).await.unwrap();
    for key in ["hls/index.m3u8", "hls/s0.ts", "hls/s1.ts"] {
        assert_ne!(m.stat("public", key).await.unwrap().expiration_date.as_deref(), Some(""), "{key}");
    }
    m.set_deadline("public", "hls/index.m3u8", -1, Some(false)).await.unwrap();
    assert_eq!(m.stat("public", "hls/index.m3u8").await.unwrap().expiration_date.as_deref(), Some(""));
    assert_ne!(m.stat("public", "hls/s0.ts").await.unwrap().expiration_date.as_deref(), Some(""));

    // Delete.
    m.delete("secret", "copy.txt").await.unwrap();
    assert!(is_not_found(&m.stat("secret", "copy.txt").await.unwrap_err()));
    let err = m.delete("secret", "copy.txt").await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::InvalidInput, Some("404")));
}

#[tokio::test]
async fn errors_are_typed() {
    let emu = Emulator::fresh("wcs-manage-errors", &[]);
    put(&emu, "public", "a.txt", b"a").await;
    let wrong = WcsManager::new(ReqwestTransport::new().unwrap(), Credentials::new(AK, "wrong-secret"), &emu.wcs);
    for err in [
        wrong.stat("public", "a.txt").await.unwrap_err(),
        wrong.buckets().await.unwrap_err(),
        wrong.list_page(&ListQuery::new("public")).await.unwrap_err(),
        wrong.delete("public", "a.txt").await.unwrap_err(),
        wrong.set_deadline("public", "a.txt", 1, None).await.unwrap_err(),
        wrong.fmgr(&[FmgrTask::delete("public", "a.txt")], &JobOptions::default()).await.unwrap_err(),
        wrong.fops("public", "a.txt", Fop::vframe("jpg"), &JobOptions::default()).await.unwrap_err(),
    ] {
        assert_eq!((err.kind(), err.status(), err.code()), (ErrorKind::Auth, Some(401), Some("401")), "{err}");
        assert!(err.request_id().is_some_and(|id| !id.is_empty()));
        assert!(!err.message().contains("wrong-secret") && !err.message().contains(SK), "{err}");
    }
    let stranger = WcsManager::new(ReqwestTransport::new().unwrap(), Credentials::new("nobody", SK), &emu.wcs);
    assert_eq!(stranger.stat("public", "a.txt").await.unwrap_err().status(), Some(401));
    // The object is still there: nothing was done with a bad token.
    let m = manager(&emu);
    m.stat("public", "a.txt").await.unwrap();

    let err = m.stat("nope", "a.txt").await.unwrap_err();
    assert_eq!((err.code(), err.kind()), (Some("631"), ErrorKind::InvalidInput));
    assert!(is_not_found(&err));
    assert_eq!(m.list_page(&ListQuery::new("nope")).await.unwrap_err().code(), Some("631"));
    assert_eq!(m.copy("public", "missing", "public", "x").await.unwrap_err().code(), Some("404"));
    assert_eq!(m.copy("public", "a.txt", "nope", "x").await.unwrap_err().code(), Some("631"));
    assert_eq!(m.move_object("public", "missing", "public", "x").await.unwrap_err().code(), Some("404"));
    assert_eq!(m.set_deadline("public", "missing", 1, None).await.unwrap_err().code(), Some("404"));
    assert_eq!(m.fmgr_status("no-such-job").await.unwrap_err().code(), Some("404"));
    assert_eq!(m.fops_status("no-such-job").await.unwrap_err().code(), Some("404"));
    let err = m.fops("public", "missing.mp4", Fop::vframe("jpg"), &JobOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), Some("404"));
    let err = m.fmgr(&[FmgrTask::delete("nope", "a")], &JobOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), Some("631"));
    let err = m.fops("public", "a.txt", Fop::raw("not a command"), &JobOptions::default()).await.unwrap_err();
    assert_eq!((err.code(), err.status()), (Some("400"), Some(400)));
    // Refused before sending.
    let err = m.list_page(&ListQuery::new("public").limit(5000)).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::InvalidInput, None));
    // A host that is not there is a network error.
    let down = WcsManager::new(ReqwestTransport::new().unwrap(), creds(), "http://127.0.0.1:9");
    assert_eq!(down.buckets().await.unwrap_err().kind(), ErrorKind::Network);
}

#[tokio::test]
async fn listings_page_on_demand_in_every_mode() {
    let emu = Emulator::fresh("wcs-manage-list", &[]);
    let m = manager(&emu);
    let mut all = Vec::new();
    for i in 0..23 {
        let key = format!("flat/{i:02}.txt");
        put(&emu, "public", &key, format!("item {i}").as_bytes()).await;
        all.push(key);
    }
    for key in
        ["tree/a.txt", "tree/b.txt", "tree/d1/x.txt", "tree/d1/y/z.txt", "tree/d2/x.txt", "tree/e.txt", "tree/d3/q"]
    {
        put(&emu, "public", key, b"t").await;
    }
    put(&emu, "public", "flatter.txt", b"not under flat/").await;

    // One page at a time, by hand.
    let q = ListQuery::new("public").prefix("flat/").limit(10);
    let first = m.list_page(&q).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.items[0].key, "flat/00.txt");
    assert_eq!(first.items[0].fsize, Some(6));
    assert_eq!(first.items[0].hash, etag(b"item 0"));
    let marker = first.marker.clone().expect("more pages");
    let second = m.list_page(&q.clone().marker(marker)).await.unwrap();
    assert_eq!(second.items[0].key, "flat/10.txt");
    let third = m.list_page(&q.clone().marker(second.marker.clone().unwrap())).await.unwrap();
    assert_eq!(third.items.len(), 3);
    assert_eq!(third.marker, None, "the last page has no marker");

    // The stream fetches pages as it goes, across several pages.
    assert_eq!(keys(&m, ListQuery::new("public").prefix("flat/").limit(4)).await, all);
    let pages: Vec<_> = m.list_pages(ListQuery::new("public").prefix("flat/").limit(4)).collect().await;
    assert_eq!(pages.len(), 6);
    // Stop early: only the pages needed are fetched.
    let firsts: Vec<_> = m.list(ListQuery::new("public").prefix("flat/").limit(5)).take(7).collect().await;
    assert_eq!(firsts.len(), 7);
    // Flat listings match prefixes "fuzzily"; no prefix lists everything.
    let fuzzy = keys(&m, ListQuery::new("public").prefix("flat")).await;
    assert_eq!(fuzzy.len(), 24);
    assert_eq!(keys(&m, ListQuery::new("public")).await.len(), 31);

    // Directory modes: files then sub-directories, or the other way, both paged.
    let page = m.list_page(&ListQuery::new("public").prefix("tree").mode(ListMode::FilesFirst)).await.unwrap();
    let files: Vec<&str> = page.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(files, ["tree/a.txt", "tree/b.txt", "tree/e.txt"]);
    assert_eq!(page.common_prefixes, ["tree/d1/", "tree/d2/", "tree/d3/"]);
    assert_eq!(page.marker, None);
    let mut entries = Vec::new();
    let mut query = ListQuery::new("public").prefix("tree/").mode(ListMode::DirsFirst).limit(2);
    loop {
        let page = m.list_page(&query).await.unwrap();
        assert!(page.items.len() + page.common_prefixes.len() <= 2);
        entries.extend(page.common_prefixes.iter().cloned());
        entries.extend(page.items.iter().map(|i| i.key.clone()));
        match page.marker {
            Some(marker) => query = query.marker(marker),
            None => break,
        }
    }
    assert_eq!(entries, ["tree/d1/", "tree/d2/", "tree/d3/", "tree/a.txt", "tree/b.txt", "tree/e.txt"]);
    let nested = m.list_page(&ListQuery::new("public").prefix("tree/d1/").mode(ListMode::FilesFirst)).await.unwrap();
    assert_eq!((nested.items.len(), nested.common_prefixes.as_slice()), (1, &["tree/d1/y/".to_owned()][..]));
    let root = m.list_page(&ListQuery::new("public").mode(ListMode::DirsFirst)).await.unwrap();
    assert_eq!(root.common_prefixes, ["flat/", "tree/"]);
    assert_eq!(root.items.len(), 1);

    // Upload-time window.
    let none = keys(&m, ListQuery::new("public").time_window(Some(now_ms() + 60_000), None)).await;
    assert!(none.is_empty());
    let recent = keys(&m, ListQuery::new("public").prefix("flat/").time_window(Some(now_ms() - 600_000), None)).await;
    assert_eq!(recent.len(), 23);

    // A marker from another listing is refused.
    let err = m.list_page(&ListQuery::new("public").marker("garbage!")).await.unwrap_err();
    assert_eq!(err.code(), Some("400"));
}

#[tokio::test]
async fn fmgr_jobs_run_in_the_background_and_notify() {
    let emu = Emulator::fresh("wcs-manage-fmgr", &[]);
    let m = manager(&emu);
    let pixel = b"\x89PNG fake image bytes".to_vec();
    let page = b"<html>hi</html>".to_vec();
    let web = loopback(vec![("pixel.png", pixel.clone()), ("page.html", page.clone())]).await;

    // fetch: two tasks, one with an explicit key and a checked md5, one keyed by the URL path.
    let tasks = [
        FmgrTask::fetch(&format!("{}/files/pixel.png", web.url), "public")
            .key("img/p.png")
            .md5(&Md5::digest(&pixel).to_hex()),
        FmgrTask::fetch(&format!("{}/files/page.html", web.url), "public").prefix("mirror"),
    ];
    let notify = format!("{}/notify?job=fetch", web.url);
    let id = m.fmgr(&tasks, &JobOptions::notify(&notify)).await.unwrap();
    let (status, seen) = wait_notified(&m, JobKind::Fmgr, &id).await;
    assert_eq!(seen.first(), Some(&0), "queued first: {seen:?}");
    assert!(seen.contains(&1), "then processing: {seen:?}");
    assert_eq!(seen.last(), Some(&6), "notified last: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "codes only go forward: {seen:?}");
    assert_eq!(status.id, id);
    assert!(status.items.iter().all(|i| i.succeeded()), "{status:?}");
    assert_eq!(status.items[0].key.as_deref(), Some("img/p.png"));
    assert_eq!(status.items[0].hash.as_deref(), Some(etag(&pixel).as_str()));
    assert_eq!(status.items[1].key.as_deref(), Some("mirror/files/page.html"));
    assert_eq!(download(&emu, "public", "img/p.png").await, pixel);
    assert_eq!(m.stat("public", "mirror/files/page.html").await.unwrap().mime_type.as_deref(), Some("text/html"));
    assert!(status.items[0].url.as_deref().unwrap().ends_with("/public/img/p.png"));

    // The notification: b64 of the status JSON, signed over URL + "\n" + body.
    let got = web.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].path, "/notify?job=fetch");
    assert!(got[0].content_type.starts_with("text/plain"));
    assert_eq!(got[0].authorization, yunup::sign::wcs::sign(&creds(), format!("{notify}\n{}", got[0].body).as_bytes()));
    let notified = JobStatus::from_notification(got[0].body.as_bytes()).unwrap();
    assert_eq!((notified.id.as_str(), notified.code, notified.items.len()), (id.as_str(), Some(3), 2));

    // A failing task fails alone; a notify URL that answers 500 ends in 5.
    let tasks = [
        FmgrTask::fetch(&format!("{}/files/pixel.png", web.url), "public").key("bad.png").md5(&"0".repeat(32)),
        FmgrTask::fetch(&format!("{}/files/missing", web.url), "public").key("missing"),
        FmgrTask::fetch(&format!("{}/files/page.html", web.url), "public").key("ok.html"),
    ];
    let id = m.fmgr(&tasks, &JobOptions::notify(format!("{}/fail", web.url))).await.unwrap();
    let (status, _) = wait_notified(&m, JobKind::Fmgr, &id).await;
    assert_eq!(status.state(), JobState::NotifyFailed);
    let outcome: Vec<bool> = status.items.iter().map(|i| i.succeeded()).collect();
    assert_eq!(outcome, [false, false, true]);
    assert!(status.items[0].error.as_deref().unwrap().contains("md5"), "{:?}", status.items[0]);
    assert!(status.items[1].error.as_deref().unwrap().contains("404"), "{:?}", status.items[1]);
    assert!(is_not_found(&m.stat("public", "bad.png").await.unwrap_err()));
    let fails = web.received.lock().unwrap().iter().filter(|r| r.path == "/fail").count();
    assert_eq!(fails, 3, "three attempts");
    let notified = JobStatus::from_notification(web.received.lock().unwrap().last().unwrap().body.as_bytes()).unwrap();
    assert_eq!(notified.code, Some(2), "the notification says some task failed");

    // copy, move, delete, deletePrefix, deletem3u8 — effects seen through stat and list.
    put(&emu, "public", "src/a.txt", b"aaa").await;
    put(&emu, "public", "src/b.txt", b"bbb").await;
    let id = m
        .fmgr(
            &[
                FmgrTask::copy("public", "src/a.txt", "secret"),
                FmgrTask::copy("public", "src/b.txt", "secret").key("b2.txt").prefix("in"),
            ],
            &JobOptions::default(),
        )
        .await
        .unwrap();
    let (status, seen) = watch(&m, JobKind::Fmgr, &id).await;
    assert_eq!((status.state(), seen.last()), (JobState::Done, Some(&3)));
    assert_eq!(m.stat("secret", "src/a.txt").await.unwrap().hash, etag(b"aaa"));
    assert_eq!(m.stat("secret", "in/b2.txt").await.unwrap().hash, etag(b"bbb"));

    let id = m
        .fmgr(&[FmgrTask::move_object("public", "src/a.txt", "public").key("moved/a.txt")], &JobOptions::default())
        .await
        .unwrap();
    assert!(watch(&m, JobKind::Fmgr, &id).await.0.items[0].succeeded());
    assert!(is_not_found(&m.stat("public", "src/a.txt").await.unwrap_err()));
    m.stat("public", "moved/a.txt").await.unwrap();

    let id = m
        .fmgr(&[FmgrTask::delete("public", "moved/a.txt"), FmgrTask::delete("public", "never")], &JobOptions::default())
        .await
        .unwrap();
    let (status, _) = watch(&m, JobKind::Fmgr, &id).await;
    assert_eq!(status.items.iter().map(|i| i.succeeded()).collect::<Vec<_>>(), [true, false]);
    assert!(is_not_found(&m.stat("public", "moved/a.txt").await.unwrap_err()));

    for i in 0..5 {
        put(&emu, "public", &format!("tmp/{i}.log"), b"log").await;
    }
    let id = m
        .fmgr(&[FmgrTask::delete_prefix("public", "tmp/").output("secret", "deleted.txt")], &JobOptions::default())
        .await
        .unwrap();
    assert!(watch(&m, JobKind::Fmgr, &id).await.0.items[0].succeeded());
    assert!(keys(&m, ListQuery::new("public").prefix("tmp/")).await.is_empty());
    let listed = download(&emu, "secret", "deleted.txt").await;
    assert_eq!(String::from_utf8(listed).unwrap().lines().count(), 5);

    put(&emu, "public", "v/seg0.ts", b"0").await;
    put(&emu, "public", "v/seg1.ts", b"1").await;
    put(&emu, "public", "v/play.m3u8", b"#EXTM3U\nseg0.ts\nseg1.ts\n").await;
    put(&emu, "public", "w/seg0.ts", b"0").await;
    put(&emu, "public", "w/play.m3u8", b"#EXTM3U\nseg0.ts\n").await;
    let id = m
        .fmgr(
            &[
                FmgrTask::delete_m3u8("public", "v/play.m3u8").delete_ts(true),
                FmgrTask::delete_m3u8("public", "w/play.m3u8"),
            ],
            &JobOptions::default(),
        )
        .await
        .unwrap();
    assert!(watch(&m, JobKind::Fmgr, &id).await.0.items.iter().all(|i| i.succeeded()));
    assert!(keys(&m, ListQuery::new("public").prefix("v/")).await.is_empty());
    assert_eq!(keys(&m, ListQuery::new("public").prefix("w/")).await, ["w/seg0.ts"]);

    // wait(): the client's own polling helper.
    let id = m.fmgr(&[FmgrTask::delete("public", "w/seg0.ts")], &JobOptions::default()).await.unwrap();
    let status = m.wait(JobKind::Fmgr, &id, &TokioRuntime::default(), 50, 30_000).await.unwrap();
    assert!(status.state().is_finished());
    // ... and its timeout.
    let id = m.fmgr(&[FmgrTask::delete("public", "flat")], &JobOptions::default()).await.unwrap();
    let err = m.wait(JobKind::Fmgr, &id, &TokioRuntime::default(), 10, 20).await.unwrap_err();
    assert_eq!(err.code(), Some("job-timeout"));
}

/// The entries of a ZIP archive of stored entries, read from its local headers: (name, bytes).
fn stored_entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let (mut at, mut entries) = (0, Vec::new());
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
    while zip[at..].starts_with(b"PK\x03\x04") {
        assert_eq!(u16_at(at + 8), 0, "stored");
        let (size, name_len, extra_len) = (u32_at(at + 18), u16_at(at + 26), u16_at(at + 28));
        let name = String::from_utf8(zip[at + 30..at + 30 + name_len].to_vec()).unwrap();
        let data = at + 30 + name_len + extra_len;
        let bytes = zip[data..data + size].to_vec();
        assert_eq!(u32_at(at + 14) as u32, crc32fast::hash(&bytes), "{name}: CRC-32");
        entries.push((name, bytes));
        at = data + size;
    }
    assert!(zip[at..].starts_with(b"PK\x01\x02"), "the central directory follows the entries");
    entries
}

/// fmgr `compress` zips keys, directories and the keys a list object names; `setdeadline` sets
/// the retention of a whole bucket directory at once (and of nothing outside it).
#[tokio::test]
async fn fmgr_compress_and_setdeadline_work_on_many_objects() {
    let emu = Emulator::fresh("wcs-manage-compress", &[]);
    let m = manager(&emu);
    put(&emu, "public", "docs/a.txt", b"alpha").await;
    put(&emu, "public", "docs/sub/b.txt", b"beta").await;
    put(&emu, "public", "docsx/c.txt", b"not in docs/").await;
    put(&emu, "public", "one.bin", &[0u8, 1, 2, 255]).await;
    put(&emu, "public", "list.txt", b"one.bin\r\n\ndocs/a.txt\n").await;

    let tasks = [
        FmgrTask::compress("public", &["docs/", "one.bin"], "secret", "out/all.zip").unwrap(),
        FmgrTask::compress_listed("public", "list.txt", "secret", "out/listed.zip").unwrap(),
        FmgrTask::compress("public", &["one.bin", "missing.txt"], "secret", "out/never.zip").unwrap(),
        FmgrTask::compress("public", &["empty/"], "secret", "out/empty.zip").unwrap(),
    ];
    let id = m.fmgr(&tasks, &JobOptions::default()).await.unwrap();
    let (status, _) = watch(&m, JobKind::Fmgr, &id).await;
    assert_eq!(
        status.items.iter().map(|i| i.succeeded()).collect::<Vec<_>>(),
        [true, true, false, false],
        "{status:?}"
    );
    assert!(status.items[2].error.as_deref().unwrap().contains("missing.txt"), "{:?}", status.items[2]);
    assert!(is_not_found(&m.stat("secret", "out/never.zip").await.unwrap_err()), "no half-made archive");
    assert!(status.items[3].error.as_deref().unwrap().contains("empty/"), "{:?}", status.items[3]);
    let all = download(&emu, "secret", "out/all.zip").await;
    assert_eq!(status.items[0].hash.as_deref(), Some(etag(&all).as_str()));
    let names = |zip: &[u8]| stored_entries(zip).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(
        stored_entries(&all),
        [
            ("docs/a.txt".to_owned(), b"alpha".to_vec()),
            ("docs/sub/b.txt".to_owned(), b"beta".to_vec()),
            ("one.bin".to_owned(), vec![0, 1, 2, 255]),
        ]
    );
    assert_eq!(names(&download(&emu, "secret", "out/listed.zip").await), ["one.bin", "docs/a.txt"]);
    assert_eq!(m.stat("secret", "out/all.zip").await.unwrap().mime_type.as_deref(), Some("application/zip"));

    let id =
        m.fmgr(&[FmgrTask::set_deadline("public", Some("docs"), 5).unwrap()], &JobOptions::default()).await.unwrap();
    assert!(watch(&m, JobKind::Fmgr, &id).await.0.items[0].succeeded());
    for (key, expires) in [("docs/a.txt", true), ("docs/sub/b.txt", true), ("docsx/c.txt", false), ("one.bin", false)] {
        let date = m.stat("public", key).await.unwrap().expiration_date.unwrap_or_default();
        assert_eq!(!date.is_empty(), expires, "{key}: {date:?}");
    }
    let id = m.fmgr(&[FmgrTask::set_deadline("public", None, 0).unwrap()], &JobOptions::default()).await.unwrap();
    assert!(watch(&m, JobKind::Fmgr, &id).await.0.items[0].succeeded());
    assert!(keys(&m, ListQuery::new("public")).await.is_empty(), "0 days: the whole bucket goes");
    assert!(m.stat("secret", "out/all.zip").await.is_ok(), "another bucket's objects stay");
}

#[tokio::test]
async fn fops_make_placeholders_and_report_through_prefop() {
    let emu = Emulator::fresh("wcs-manage-fops", &[]);
    let m = manager(&emu);
    let web = loopback(vec![]).await;
    put(&emu, "public", "movie.mp4", b"not really a movie").await;
    let input = m.stat("public", "movie.mp4").await.unwrap();

    let fops = Fops::new()
        .and(Fop::vframe("jpg").param("offset", 1).saveas("public", "cover.jpg"))
        .and(Fop::avthumb("flv").param("vb", "1.25m"));
    let notify = format!("{}/notify", web.url);
    let opts = JobOptions { notify_url: Some(notify.clone()), separate: true, force: false };
    let id = m.fops("public", "movie.mp4", &fops, &opts).await.unwrap();
    let (status, seen) = wait_notified(&m, JobKind::Fops, &id).await;
    assert_eq!(seen.last(), Some(&6), "{seen:?}");
    assert!(seen.contains(&1), "{seen:?}");
    assert_eq!((status.input_bucket.as_deref(), status.input_key.as_deref()), (Some("public"), Some("movie.mp4")));
    assert_eq!(status.input_fsize, input.fsize);
    assert_eq!(status.separate, Some(1));
    assert_eq!(status.items.len(), 2);
    assert!(status.items.iter().all(|i| i.succeeded() && i.cost_time.is_some()), "{status:?}");
    assert_eq!(status.items[0].cmd, fops.0[0].as_str());
    assert_eq!(status.items[0].key.as_deref(), Some("cover.jpg"));
    let auto_key = status.items[1].key.clone().unwrap();
    assert!(auto_key.starts_with("movie.mp4-") && auto_key.ends_with(".flv"), "{auto_key}");

    // The placeholder is deterministic and says what produced it.
    let expected = format!(
        "yunup-emulator placeholder output\nfop: {}\ninput: public:movie.mp4\ninput-hash: {}\ninput-size: 18\n",
        fops.0[0], input.hash
    );
    assert_eq!(String::from_utf8(download(&emu, "public", "cover.jpg").await).unwrap(), expected);
    assert_eq!(status.items[0].hash.as_deref(), Some(etag(expected.as_bytes()).as_str()));

    // separate=1: one notification per command.
    let got: Vec<Received> = web.received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.authorization, yunup::sign::wcs::sign(&creds(), format!("{notify}\n{}", r.body).as_bytes()));
        let n = JobStatus::from_notification(r.body.as_bytes()).unwrap();
        assert_eq!((n.items.len(), n.items[0].cmd.as_str()), (1, fops.0[i].as_str()));
    }

    // Without force an existing output is kept; with force it is made again.
    put(&emu, "public", "cover.jpg", b"mine").await;
    let one = Fop::vframe("jpg").param("offset", 1).saveas("public", "cover.jpg");
    let id = m.fops("public", "movie.mp4", &one, &JobOptions::default()).await.unwrap();
    let (status, seen) = watch(&m, JobKind::Fops, &id).await;
    assert_eq!((status.state(), seen.last()), (JobState::Done, Some(&3)));
    assert!(status.items[0].succeeded());
    assert_eq!(download(&emu, "public", "cover.jpg").await, b"mine");
    let id = m.fops("public", "movie.mp4", &one, &JobOptions { force: true, ..Default::default() }).await.unwrap();
    watch(&m, JobKind::Fops, &id).await;
    assert_ne!(download(&emu, "public", "cover.jpg").await, b"mine");

    // A raw string works as well; an input deleted before the job runs fails the command.
    let id = m.fops("public", "movie.mp4", "imageMogr2/jpg/crop/10x10", &JobOptions::default()).await.unwrap();
    m.delete("public", "movie.mp4").await.unwrap();
    let (status, _) = watch(&m, JobKind::Fops, &id).await;
    assert!(status.items[0].failed(), "{status:?}");
    // The fmgr status endpoint does not know fops ids.
    assert_eq!(m.fmgr_status(&id).await.unwrap_err().code(), Some("404"));
}

#[tokio::test]
async fn persistent_ops_from_an_upload_token() {
    let emu = Emulator::fresh("wcs-manage-persistent", &[]);
    let m = manager(&emu);
    let mut policy = PutPolicy::new("public:clip.mp4", now_ms() + 3_600_000);
    policy.return_body = Some("pid=$(persistentId)".into());
    policy.persistent_ops = Some(Fop::vframe("png").saveas("public", "clip.png").to_string());
    let reply = put_with(&emu, &policy, b"clip").await;
    let id = reply.strip_prefix("pid=").unwrap().split('&').next().unwrap().to_owned();
    assert!(!id.is_empty(), "{reply}");
    let (status, _) = watch(&m, JobKind::Fops, &id).await;
    assert!(status.items[0].succeeded());
    m.stat("public", "clip.png").await.unwrap();
}

#[tokio::test]
async fn wslive_lists_recordings_by_time() {
    let emu = Emulator::fresh("wcs-manage-wslive", &[]);
    let m = manager(&emu);
    for key in [
        "wslive/ch1/20240101100000.flv",
        "wslive/ch1/20240101120000.flv",
        "wslive/ch1/20240102120000.flv",
        "wslive/ch1/notes.txt",
        "wslive/ch2/20240101110000.flv",
    ] {
        put(&emu, "public", key, b"rec").await;
    }
    let query = WsliveQuery {
        channel: "ch1".into(),
        start_time: "20240101000000".into(),
        end_time: "20240101235959".into(),
        bucket: "public".into(),
        start: None,
        limit: None,
    };
    let list = m.wslive_list(&query).await.unwrap();
    let names: Vec<&str> = list.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(names, ["wslive/ch1/20240101100000.flv", "wslive/ch1/20240101120000.flv"]);
    assert_eq!((list.total, list.items[0].fsize), (Some(2), Some(3)));
    let paged = m
        .wslive_list(&WsliveQuery {
            start: Some(2),
            limit: Some(1),
            end_time: "20241231000000".into(),
            ..query.clone()
        })
        .await
        .unwrap();
    assert_eq!((paged.total, paged.items.len()), (Some(3), 1));
    assert_eq!(paged.items[0].key, "wslive/ch1/20240101120000.flv");
    let err = m.wslive_list(&WsliveQuery { bucket: "nope".into(), ..query }).await.unwrap_err();
    assert_eq!(err.code(), Some("631"));
}

#[tokio::test]
async fn jobs_survive_a_kill() {
    let data = temp_data_dir("wcs-manage-kill");
    let emu = Emulator::start(&data, &[]);
    put(&emu, "public", "in.mp4", b"input").await;
    let m = manager(&emu);
    let id = m
        .fops("public", "in.mp4", Fop::vframe("jpg").saveas("public", "out.jpg"), &JobOptions::default())
        .await
        .unwrap();
    let fid = m.fmgr(&[FmgrTask::copy("public", "in.mp4", "secret")], &JobOptions::default()).await.unwrap();
    emu.kill();
    let emu = Emulator::start(&data, &[]);
    let m = manager(&emu);
    assert!(watch(&m, JobKind::Fops, &id).await.0.items[0].succeeded());
    assert!(watch(&m, JobKind::Fmgr, &fid).await.0.items[0].succeeded());
    m.stat("public", "out.jpg").await.unwrap();
    m.stat("secret", "in.mp4").await.unwrap();
    // Status endpoints need no token.
    let r = reqwest::get(format!("{}/fmgr/status?persistentId={fid}", emu.wcs)).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["items"][0]["cmd"],
        format!("resource/{}/bucket/{}", urlsafe_b64("public:in.mp4"), urlsafe_b64("secret"))
    );
}
