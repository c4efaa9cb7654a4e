//! Wantu management from Rust, through `yunup::manage::wantu::WantuManager` over
//! `ReqwestTransport`, against a real emulator: file exists/info/rename/delete, files and folders
//! listed across several pages (fetched on demand), folders created, checked and deleted, and the
//! manage-token errors (wrong SK, unknown AK, a tampered target, clock skew, missing namespace).
//! Each test starts its own emulator.

mod common;

use common::{AK, Emulator, SK};
use futures_util::{StreamExt, TryStreamExt};
use yunup::ErrorKind;
use yunup::calendar::http_date;
use yunup::engine::Transport;
use yunup::hash::{Hasher, Md5};
use yunup::manage::wantu::{WantuFile, WantuManager};
use yunup::runtime::native::ReqwestTransport;
use yunup::service::wantu::WantuUpload;
use yunup::service::{HttpRequest, HttpResponse, Method};
use yunup::sign::Credentials;
use yunup::sign::wantu::{NEVER_EXPIRES, UploadPolicy, manage_token, upload_token};

fn creds() -> Credentials {
    Credentials::new(AK, SK)
}

fn manager(emu: &Emulator, namespace: &str) -> WantuManager<ReqwestTransport> {
    WantuManager::new(ReqwestTransport::new().unwrap(), creds(), &emu.wantu, namespace)
}

/// Upload `body` as `key` (`dir/name`) into `namespace` with a simple upload.
async fn upload(emu: &Emulator, namespace: &str, key: &str, body: &[u8], mime: &str) {
    let token = upload_token(&creds(), &UploadPolicy::new(namespace, NEVER_EXPIRES)).unwrap();
    let up = WantuUpload { endpoint: emu.wantu.clone(), key: key.to_owned(), mime: mime.to_owned() };
    let md5 = Md5::digest(body).to_hex();
    let r = ReqwestTransport::new().unwrap().send(up.upload_request(&token, body, &md5)).await.unwrap();
    assert_eq!(r.status, 200, "upload {key}: {}", r.text());
}

async fn send(request: HttpRequest) -> HttpResponse {
    ReqwestTransport::new().unwrap().send(request).await.unwrap()
}

/// Requests that reached the Wantu port after `since`.
async fn wantu_requests(emu: &Emulator, since: u64) -> (u64, Vec<String>) {
    let r = send(HttpRequest::new(Method::Get, format!("{}/admin/requests?since={since}", emu.demo))).await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let list = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["service"] == "wantu")
        .map(|r| r["target"].as_str().unwrap().to_owned())
        .collect();
    (v["last"].as_u64().unwrap(), list)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::test]
async fn files_exist_info_rename_delete() {
    let emu = Emulator::fresh("wantu-manage-files", &[]);
    let m = manager(&emu, "public");
    let body = b"not really a png, but named like one".to_vec();
    upload(&emu, "public", "img/2024/a b.bin", &body, "application/octet-stream").await;

    assert!(m.file_exists("img/2024/a b.bin").await.unwrap());
    assert!(m.file_exists("/img/2024/a b.bin").await.unwrap(), "a leading / is the same file");
    assert!(!m.file_exists("img/2024/nope.bin").await.unwrap());

    let f = m.file_info("img/2024/a b.bin").await.unwrap().expect("the file is there");
    assert_eq!((f.dir.as_str(), f.name.as_str(), f.key()), ("/img/2024", "a b.bin", "img/2024/a b.bin".to_owned()));
    assert_eq!(f.namespace.as_deref(), Some("public"));
    assert_eq!(f.file_size, Some(body.len() as u64));
    assert_eq!(f.e_tag.as_deref(), Some(Md5::digest(&body).to_hex_upper().as_str()));
    assert_eq!((f.mime_type.as_deref(), f.is_image), (Some("application/octet-stream"), Some(false)));
    assert!(f.file_modified.is_some_and(|t| t.abs_diff(now_ms()) < 120_000));
    assert!(f.file_id.as_deref().is_some_and(|id| !id.is_empty()));
    // The URL serves the bytes.
    let r = send(HttpRequest::new(Method::Get, f.url.clone().unwrap())).await;
    assert_eq!((r.status, &r.body[..]), (200, &body[..]), "{:?}", f.url);
    assert_eq!(m.file_info("img/2024/nope.bin").await.unwrap(), None);

    // Rename (move to another folder); the old name is gone.
    let moved = m.rename("img/2024/a b.bin", "archive/b.bin").await.unwrap();
    assert_eq!((moved.dir.as_str(), moved.name.as_str()), ("/archive", "b.bin"));
    assert_eq!(moved.e_tag, f.e_tag);
    assert!(!m.file_exists("img/2024/a b.bin").await.unwrap());
    let again = m.file_info("archive/b.bin").await.unwrap().unwrap();
    assert_eq!((again.file_size, again.file_id), (f.file_size, f.file_id.clone()));
    // Onto an existing file: 409; from a missing one: 404.
    upload(&emu, "public", "archive/c.bin", b"c", "text/plain").await;
    let err = m.rename("archive/b.bin", "archive/c.bin").await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("FileAlreadyExists")));
    let err = m.rename("archive/zzz.bin", "archive/d.bin").await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("NoSuchFile")));

    // Delete; a second delete is 404.
    m.delete_file("archive/b.bin").await.unwrap();
    assert_eq!(m.file_info("archive/b.bin").await.unwrap(), None);
    let err = m.delete_file("archive/b.bin").await.unwrap_err();
    assert_eq!((err.kind(), err.status(), err.code()), (ErrorKind::InvalidInput, Some(404), Some("NoSuchFile")));
    assert!(err.request_id().is_some_and(|id| !id.is_empty()));

    // Namespaces are separate: the same key in another one does not exist.
    assert!(!manager(&emu, "secret").file_exists("archive/c.bin").await.unwrap());
    assert!(manager(&emu, "public").file_exists("archive/c.bin").await.unwrap());
}

#[tokio::test]
async fn listings_page_across_several_pages_on_demand() {
    let emu = Emulator::fresh("wantu-manage-list", &[]);
    let m = manager(&emu, "public");
    for i in 0..23 {
        upload(&emu, "public", &format!("list/f{i:02}.txt"), format!("file {i}").as_bytes(), "text/plain").await;
    }
    for d in ["b", "a", "c"] {
        upload(&emu, "public", &format!("list/{d}/inner.txt"), b"x", "text/plain").await;
    }
    upload(&emu, "public", "top.txt", b"top", "text/plain").await;

    // 23 files directly in /list (not the ones in its sub-folders), in pages of 5: 5 requests.
    let (mark, _) = wantu_requests(&emu, 0).await;
    let files: Vec<WantuFile> = m.list_files("list", 5).try_collect().await.unwrap();
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let expected: Vec<String> = (0..23).map(|i| format!("f{i:02}.txt")).collect();
    assert_eq!(names, expected);
    assert!(files.iter().all(|f| f.dir == "/list"));
    assert_eq!(files[7].file_size, Some(6));
    let (mark, requests) = wantu_requests(&emu, mark).await;
    assert_eq!(requests.len(), 5, "{requests:?}");
    assert!(requests[4].ends_with("currentPage=5&pageSize=5"), "{requests:?}");

    // On demand: the first 7 files cost 2 requests.
    let first: Vec<WantuFile> = m.list_files("/list/", 5).take(7).try_collect().await.unwrap();
    assert_eq!(first.len(), 7);
    let (mark, requests) = wantu_requests(&emu, mark).await;
    assert_eq!(requests.len(), 2);

    // One page by hand: the counts.
    let page = m.list_files_page("list", 2, 10).await.unwrap();
    assert_eq!(
        (page.current_page, page.page_size, page.total_count, page.total_page),
        (Some(2), Some(10), Some(23), Some(3))
    );
    assert_eq!(page.items.len(), 10);
    let page = m.list_files_page("list", 4, 10).await.unwrap();
    assert!(page.items.is_empty());
    let root: Vec<WantuFile> = m.list_files("", 10).try_collect().await.unwrap();
    assert_eq!(root.iter().map(|f| f.key()).collect::<Vec<_>>(), ["top.txt"]);

    // Folders implied by files, plus created ones, in pages of 2.
    for d in ["d", "e/deep/er", "f"] {
        m.create_folder(&format!("list/{d}")).await.unwrap();
    }
    let (mark, _) = wantu_requests(&emu, mark).await;
    let folders: Vec<_> = m.list_folders("list", 2).try_collect().await.unwrap();
    assert_eq!(
        folders.iter().map(|f| f.dir.as_str()).collect::<Vec<_>>(),
        ["/list/a", "/list/b", "/list/c", "/list/d", "/list/e", "/list/f"]
    );
    assert_eq!(folders[0].name.as_deref(), Some("a"));
    assert_eq!(folders[0].namespace.as_deref(), Some("public"));
    let (_, requests) = wantu_requests(&emu, mark).await;
    assert_eq!(requests.len(), 3, "6 folders in pages of 2: {requests:?}");
    let root: Vec<_> = m.list_folders("/", 100).try_collect().await.unwrap();
    assert_eq!(root.iter().map(|f| f.dir.as_str()).collect::<Vec<_>>(), ["/list"]);
    let deep: Vec<_> = m.list_folders("list/e", 100).try_collect().await.unwrap();
    assert_eq!(deep.iter().map(|f| f.dir.as_str()).collect::<Vec<_>>(), ["/list/e/deep"]);
    let none: Vec<_> = m.list_folders("list/f", 100).try_collect().await.unwrap();
    assert!(none.is_empty());
    let page = m.list_folders_page("list", 3, 2).await.unwrap();
    assert_eq!((page.total_count, page.total_page), (Some(6), Some(3)));
    assert_eq!(page.items.iter().map(|f| f.name.as_deref().unwrap()).collect::<Vec<_>>(), ["e", "f"]);
}

#[tokio::test]
async fn folders_create_exist_delete() {
    let emu = Emulator::fresh("wantu-manage-folders", &[]);
    let m = manager(&emu, "public");
    assert!(m.folder_exists("/").await.unwrap(), "the root always exists");
    assert!(!m.folder_exists("a").await.unwrap());

    m.create_folder("a/b/c").await.unwrap();
    for dir in ["a", "/a/b", "a/b/c/"] {
        assert!(m.folder_exists(dir).await.unwrap(), "{dir}");
    }
    m.create_folder("a/b/c").await.unwrap(); // again: fine
    assert!(!m.folder_exists("a/b/c/d").await.unwrap());
    assert!(!m.folder_exists("a/bb").await.unwrap());

    // Implied by a file.
    upload(&emu, "public", "x/y/z.txt", b"z", "text/plain").await;
    assert!(m.folder_exists("x/y").await.unwrap());

    // Deleting: not empty (a sub-folder or a file) is 409, missing is 404.
    let err = m.delete_folder("a/b").await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("DirNotEmpty")));
    let err = m.delete_folder("x/y").await.unwrap_err();
    assert_eq!(err.code(), Some("DirNotEmpty"));
    m.delete_folder("a/b/c").await.unwrap();
    assert!(!m.folder_exists("a/b/c").await.unwrap());
    m.delete_folder("a/b").await.unwrap();
    m.delete_folder("a").await.unwrap();
    assert!(!m.folder_exists("a").await.unwrap());
    let err = m.delete_folder("a").await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("NoSuchDir")));
    let err = m.delete_folder("/").await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidArgument"));

    // Emptied by deleting its file, a folder that was only implied is gone.
    m.delete_file("x/y/z.txt").await.unwrap();
    assert!(!m.folder_exists("x/y").await.unwrap());
}

#[tokio::test]
async fn manage_token_errors() {
    let emu = Emulator::fresh("wantu-manage-errors", &[]);
    upload(&emu, "public", "k.txt", b"k", "text/plain").await;
    let code = |e: yunup::Error| (e.kind(), e.status(), e.code().unwrap_or("").to_owned());

    let wrong_sk =
        WantuManager::new(ReqwestTransport::new().unwrap(), Credentials::new(AK, "s3cr3t-WRONG"), &emu.wantu, "public");
    let err = wrong_sk.delete_file("k.txt").await.unwrap_err();
    assert!(!err.message().contains("s3cr3t-WRONG"), "no secrets in messages");
    assert_eq!(code(err), (ErrorKind::Auth, Some(401), "SignatureDoesNotMatch".to_owned()));
    assert!(manager(&emu, "public").file_exists("k.txt").await.unwrap(), "nothing was deleted");

    let stranger =
        WantuManager::new(ReqwestTransport::new().unwrap(), Credentials::new("nobody", SK), &emu.wantu, "public");
    assert_eq!(code(stranger.file_exists("k.txt").await.unwrap_err()).2, "InvalidAccessKeyId");

    // The clock: 20 minutes off either way is refused, 5 minutes is fine.
    fn past() -> u64 {
        now_ms() - 20 * 60 * 1000
    }
    fn future() -> u64 {
        now_ms() + 20 * 60 * 1000
    }
    fn slightly_off() -> u64 {
        now_ms() - 5 * 60 * 1000
    }
    for clock in [past as fn() -> u64, future] {
        let m = manager(&emu, "public").with_clock(clock);
        assert_eq!(
            code(m.file_exists("k.txt").await.unwrap_err()),
            (ErrorKind::Auth, Some(401), "RequestTimeTooSkewed".to_owned())
        );
    }
    assert!(manager(&emu, "public").with_clock(slightly_off).file_exists("k.txt").await.unwrap());

    // The token covers the exact target: changing the query after signing is refused.
    let m = manager(&emu, "public");
    let mut tampered = m.list_files_request("/", 1, 10, now_ms()).unwrap();
    tampered.url = tampered.url.replace("pageSize=10", "pageSize=11");
    let r = send(tampered).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("SignatureDoesNotMatch"), "{}", r.text());
    // No token, no Date.
    let r = send(HttpRequest::new(Method::Get, format!("{}/3.0/files?namespace=public", emu.wantu))).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("InvalidAuthorization"));
    let signed = m.file_exists_request("k.txt", now_ms()).unwrap();
    let mut no_date = HttpRequest::new(Method::Get, signed.url.clone());
    no_date.headers = signed.headers.iter().filter(|(k, _)| k != "Date").cloned().collect();
    assert_eq!(send(no_date).await.status, 401);

    // Node's SDK sends an RFC 1123 Date; it is signed as sent and checked for skew.
    let uri = signed.url.strip_prefix(&emu.wantu).unwrap().to_owned();
    let date = http_date(now_ms());
    let r = send(
        HttpRequest::new(Method::Get, signed.url.clone())
            .header("Date", &date)
            .header("Authorization", manage_token(&creds(), &uri, b"", &date)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"exist\":true"));
    // PHP url-encodes dir; Node does not: both are signed as sent.
    let raw = "/3.0/files?namespace=public&dir=/&currentPage=1&pageSize=10";
    let ms = now_ms().to_string();
    let r = send(
        HttpRequest::new(Method::Get, format!("{}{raw}", emu.wantu))
            .header("Date", &ms)
            .header("Authorization", manage_token(&creds(), raw, b"", &ms)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"totalCount\":1"));

    // A namespace that does not exist; an unknown operation.
    let ghost = manager(&emu, "ghost");
    assert_eq!(code(ghost.file_exists("k.txt").await.unwrap_err()).2, "NoSuchNamespace");
    let err = std::pin::pin!(ghost.list_files("", 10)).next().await.unwrap().unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("NoSuchNamespace")));
    let ms = now_ms().to_string();
    let r = send(
        HttpRequest::new(Method::Get, format!("{}/3.0/snapshots", emu.wantu))
            .header("Date", &ms)
            .header("Authorization", manage_token(&creds(), "/3.0/snapshots", b"", &ms)),
    )
    .await;
    assert_eq!(r.status, 404);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["code"], "NotFound");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()));
}
