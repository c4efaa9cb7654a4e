//! The emulated Wantu over real HTTP (wantu.md §3, §5, §6, §9, §13): simple and multipart
//! uploads with tokens from `yunup::sign::wantu`, the bytes read back, and the error catalogue.
//!
//! Form bodies are built by hand, as the vendors' SDKs build them (text parts first, the file
//! last, named `content`), so the tests also pin down the exact wire shape.

mod common;

use std::time::Duration;

use common::{AK, Emulator, SK, temp_data_dir};
use reqwest::StatusCode;
use serde_json::Value;
use yunup::encoding::{std_b64, urlsafe_b64, urlsafe_b64_nopad};
use yunup::hash::{Hasher, Md5};
use yunup::sign::Credentials;
use yunup::sign::wantu::{NEVER_EXPIRES, UploadPolicy, upload_token, upload_token_for_json};

/// A plain HTTP client. The `yunup` crate turns on reqwest's `rustls-no-provider` feature, which
/// feature unification applies to this test's reqwest too: without a process-wide rustls provider,
/// building any client panics. Making yunup's native transport once installs its `ring` provider.
fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = yunup::runtime::native::ReqwestTransport::new();
    });
    reqwest::Client::builder()
}

fn http_client() -> reqwest::Client {
    client_builder().build().unwrap()
}

fn creds() -> Credentials {
    Credentials::new(AK, SK)
}

fn token(policy: &UploadPolicy) -> String {
    upload_token(&creds(), policy).unwrap()
}

fn policy(namespace: &str) -> UploadPolicy {
    UploadPolicy::new(namespace, NEVER_EXPIRES)
}

fn md5_upper(data: &[u8]) -> String {
    Md5::digest(data).to_hex_upper()
}

/// Deterministic bytes that do not look like any sniffed format.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(u32::from(seed)) as u8 | 0x01).collect()
}

/// A multipart body: text parts first, then `content` (when given), CRLF line ends.
fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----yunupWantuTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Where the token travels (§3).
#[derive(Clone, Copy, Debug)]
enum Via {
    Header,
    QueryPlus,
    QueryPercent,
    FormField,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    via: Via,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> Reply {
    let mut fields = fields.to_vec();
    let (scheme, rest) = token.split_once(' ').unwrap();
    let url = match via {
        Via::QueryPlus => format!("{url}?Authorization={scheme}+{rest}&UserAgent=ALIMEDIASDK_WORKSTATION"),
        Via::QueryPercent => format!("{url}?Authorization={scheme}%20{rest}"),
        Via::Header | Via::FormField => url.to_owned(),
    };
    if let Via::FormField = via {
        fields.insert(0, ("Authorization", token));
    }
    let (content_type, body) = form(&fields, file);
    let mut request = client.post(url).header("Content-Type", content_type).body(body);
    if let Via::Header = via {
        request = request.header("Authorization", token);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap();
    let json = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, json }
}

/// An error reply: the status, a JSON body with exactly `code`, `message`, `requestId`, the
/// documented content type. Returns the code.
fn error_code(reply: &Reply, status: u16) -> String {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.json);
    assert_eq!(reply.headers["content-type"], "application/json;charset=UTF-8");
    let object = reply.json.as_object().unwrap_or_else(|| panic!("not a JSON object: {}", reply.json));
    let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "requestId"], "{}", reply.json);
    assert!(!object["message"].as_str().unwrap().is_empty());
    assert_request_id(&object["requestId"]);
    object["code"].as_str().unwrap().to_owned()
}

fn assert_request_id(v: &Value) {
    let id = v.as_str().unwrap();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)), "{id}");
}

async fn get_bytes(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let r = client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn simple_upload_every_path_and_token_location() {
    let emu = Emulator::fresh("wantu-simple", &[]);
    let client = http_client();
    let t = token(&policy("public"));
    let cases = [
        ("/api/proxy/upload", Via::Header),
        ("/api/proxy/upload.json", Via::Header),
        ("/api/proxy/upload", Via::QueryPlus),
        ("/api/proxy/upload.json", Via::QueryPercent),
        ("/api/proxy/upload", Via::FormField),
    ];
    for (i, (path, via)) in cases.into_iter().enumerate() {
        let bytes = data(5000 + i, i as u8);
        let name = format!("file-{i}.bin");
        let size = bytes.len().to_string();
        let fields = [("dir", "docs/sub"), ("name", name.as_str()), ("size", size.as_str())];
        let r = post(&client, &format!("{}{path}", emu.wantu), &t, via, &fields, Some((&name, &bytes))).await;
        assert_eq!(r.status, 200, "{path} {via:?}: {}", r.json);
        assert_eq!(r.headers["content-type"], "application/json;charset=UTF-8");
        let j = &r.json;
        assert_eq!(j["code"], "OK");
        assert_request_id(&j["requestId"]);
        assert_eq!(j["name"], name.as_str());
        assert_eq!(j["dir"], "/docs/sub");
        assert_eq!(j["uri"], format!("/docs/sub/{name}"));
        assert_eq!(j["isImage"], false);
        assert_eq!(j["fileSize"].as_u64(), Some(bytes.len() as u64));
        assert!(j["fileModified"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(j["eTag"], md5_upper(&bytes).as_str());
        assert_eq!(j["mimeType"], "application/octet-stream");
        assert!(!j["fileId"].as_str().unwrap().is_empty());
        let url = j["url"].as_str().unwrap();
        assert_eq!(url, format!("{}/public/docs/sub/{name}", emu.wantu));
        assert_eq!(get_bytes(&client, url).await, bytes, "{path} {via:?}");
    }
    // Range reads of the last one, and a HEAD.
    let url = format!("{}/public/docs/sub/file-4.bin", emu.wantu);
    let r = client.get(&url).header("Range", "bytes=10-19").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 10-19/5004");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data(5004, 4)[10..20]);
    let r = client.get(&url).header("Range", "bytes=9000-").send().await.unwrap();
    assert_eq!(r.status(), 416);
    let r = client.head(&url).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["content-length"].to_str().unwrap()), (200, "5004"));
    let r = client.get(format!("{}/public/docs/nope.bin", emu.wantu)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "NoSuchFile");
}

/// How `parts` is base64-encoded for blockComplete.
type Encode = fn(&str) -> String;

/// Init with part 1, parts 2..=n all at once, complete; returns the complete reply.
async fn multipart_upload(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    parts: &[Vec<u8>],
    encode: Encode,
) -> Reply {
    let init = post(
        client,
        &format!("{base}/api/proxy/blockInit"),
        token,
        Via::Header,
        &[("dir", "/big"), ("name", name), ("size", &parts[0].len().to_string())],
        Some((name, &parts[0])),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.json);
    let (id, upload_id) =
        (init.json["id"].as_str().unwrap().to_owned(), init.json["uploadId"].as_str().unwrap().to_owned());
    assert_eq!(init.json["partNumber"], 1);
    assert_eq!(init.json["eTag"], md5_upper(&parts[0]).as_str());
    assert_eq!((init.json["dir"].as_str(), init.json["name"].as_str()), (Some("/big"), Some(name)));
    let tasks: Vec<_> = parts
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, part)| {
            let (client, base, token, id, upload_id, part) =
                (client.clone(), base.to_owned(), token.to_owned(), id.clone(), upload_id.clone(), part.clone());
            tokio::spawn(async move {
                let number = (i + 1).to_string();
                let fields = [
                    ("id", id.as_str()),
                    ("uploadId", upload_id.as_str()),
                    ("partNumber", number.as_str()),
                    ("size", &part.len().to_string()),
                    ("md5", &Md5::digest(&part).to_hex()),
                ];
                let path = format!("{base}/api/proxy/blockUpload.json");
                post(&client, &path, &token, Via::Header, &fields, Some(("blob", &part))).await
            })
        })
        .collect();
    let mut etags = vec![init.json["eTag"].as_str().unwrap().to_owned()];
    for (i, task) in tasks.into_iter().enumerate() {
        let r = task.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["partNumber"], i + 2);
        assert_eq!((r.json["id"].as_str(), r.json["uploadId"].as_str()), (Some(id.as_str()), Some(upload_id.as_str())));
        etags.push(r.json["eTag"].as_str().unwrap().to_owned());
    }
    let list: Vec<Value> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({"partNumber": i + 1, "eTag": e.to_lowercase()}))
        .collect();
    let whole: Vec<u8> = parts.concat();
    let fields = [
        ("id", id.as_str()),
        ("uploadId", upload_id.as_str()),
        ("parts", &encode(&serde_json::to_string(&list).unwrap())),
        ("md5", &Md5::digest(&whole).to_hex()),
    ];
    post(client, &format!("{base}/api/proxy/blockComplete"), token, Via::Header, &fields, None).await
}

#[tokio::test]
async fn multipart_concurrent_parts_and_every_parts_encoding() {
    let emu = Emulator::fresh("wantu-multi", &[]);
    let client = http_client();
    let t = token(&policy("public"));
    let encodings: [(&str, Encode); 3] = [
        ("urlsafe-nopad", |s| urlsafe_b64_nopad(s)),
        ("urlsafe-padded", |s| urlsafe_b64(s)),
        ("standard", |s| std_b64(s)),
    ];
    for (k, (label, encode)) in encodings.into_iter().enumerate() {
        // The first session sends 23 parts at once.
        let count = if k == 0 { 24 } else { 5 };
        let parts: Vec<Vec<u8>> =
            (0..count).map(|i| data(if i + 1 < count { 102_400 + i * 7 } else { 999 }, i as u8 + k as u8)).collect();
        let name = format!("{label}.dat");
        let r = multipart_upload(&client, &emu.wantu, &t, &name, &parts, encode).await;
        assert_eq!(r.status, 200, "{label}: {}", r.json);
        let whole = parts.concat();
        let j = &r.json;
        assert_eq!(j["code"], "OK");
        assert_eq!(j["eTag"], md5_upper(&whole).as_str(), "{label}");
        assert_eq!(j["fileSize"].as_u64(), Some(whole.len() as u64));
        assert_eq!((j["dir"].as_str(), j["name"].as_str()), (Some("/big"), Some(name.as_str())));
        let id = j["id"].as_str().unwrap();
        assert_eq!(id.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id}");
        assert_request_id(&j["uploadId"]);
        assert_eq!(get_bytes(&client, j["url"].as_str().unwrap()).await, whole, "{label}");
        // The session is gone.
        let fields = [("id", id), ("uploadId", j["uploadId"].as_str().unwrap())];
        let again =
            post(&client, &format!("{}/api/proxy/blockCancel", emu.wantu), &t, Via::Header, &fields, None).await;
        assert_eq!(error_code(&again, 404), "NoSuchUpload");
    }
}

#[tokio::test]
async fn multipart_refusals_keep_the_session_and_cancel_ends_it() {
    let emu = Emulator::fresh("wantu-refuse", &[]);
    let client = http_client();
    let t = token(&policy("public"));
    let base = &emu.wantu;
    let (p1, p2, p3) = (data(102_400, 1), data(5000, 2), data(300, 3));
    // A first part whose md5 field is wrong is refused.
    let bad_init = post(
        &client,
        &format!("{base}/api/proxy/blockInit.json"),
        &t,
        Via::Header,
        &[("dir", "m"), ("name", "r.bin"), ("md5", &"0".repeat(32))],
        Some(("r.bin", &p1)),
    )
    .await;
    assert_eq!(error_code(&bad_init, 400), "BadDigest");
    let init = post(
        &client,
        &format!("{base}/api/proxy/blockInit.json"),
        &t,
        Via::Header,
        &[("dir", "m"), ("name", "r.bin")],
        Some(("r.bin", &p1)),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.json);
    let id = init.json["id"].as_str().unwrap().to_owned();
    let upload_id = init.json["uploadId"].as_str().unwrap().to_owned();
    let part = |n: &'static str, bytes: Vec<u8>, md5: Option<String>| {
        let (client, t, id, upload_id) = (client.clone(), t.clone(), id.clone(), upload_id.clone());
        async move {
            let mut fields = vec![("id", id.clone()), ("uploadId", upload_id.clone()), ("partNumber", n.to_owned())];
            if let Some(m) = md5 {
                fields.push(("md5", m));
            }
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(&client, &format!("{base}/api/proxy/blockUpload"), &t, Via::Header, &fields, Some(("x", &bytes))).await
        }
    };
    // A wrong part md5 is refused; the right one (upper-case) is fine.
    assert_eq!(error_code(&part("2", p2.clone(), Some("0".repeat(32))).await, 400), "BadDigest");
    assert_eq!(part("2", p2.clone(), Some(md5_upper(&p2))).await.status, 200);
    assert_eq!(part("3", p3.clone(), None).await.status, 200);
    assert_eq!(error_code(&part("0", p3.clone(), None).await, 400), "InvalidArgument");
    assert_eq!(error_code(&part("x", p3.clone(), None).await, 400), "InvalidArgument");

    let complete = |list: Value, md5: Option<String>| {
        let (client, t, id, upload_id) = (client.clone(), t.clone(), id.clone(), upload_id.clone());
        async move {
            let parts = urlsafe_b64_nopad(list.to_string());
            let mut fields = vec![("id", id.as_str()), ("uploadId", upload_id.as_str()), ("parts", parts.as_str())];
            if let Some(m) = &md5 {
                fields.push(("md5", m));
            }
            post(&client, &format!("{base}/api/proxy/blockComplete.json"), &t, Via::Header, &fields, None).await
        }
    };
    let (e1, e2, e3) = (md5_upper(&p1), md5_upper(&p2), md5_upper(&p3));
    let wrong_etag = serde_json::json!([{"partNumber": 1, "eTag": e1}, {"partNumber": 2, "eTag": e3}]);
    assert_eq!(error_code(&complete(wrong_etag, None).await, 400), "InvalidPart");
    let missing = serde_json::json!([{"partNumber": 1, "eTag": e1}, {"partNumber": 7, "eTag": e3}]);
    assert_eq!(error_code(&complete(missing, None).await, 400), "InvalidPart");
    let wrong_order = serde_json::json!([{"partNumber": 2, "eTag": e2}, {"partNumber": 1, "eTag": e1}]);
    assert_eq!(error_code(&complete(wrong_order, None).await, 400), "InvalidPartOrder");
    // Part 2 (5000 bytes) is not the last: too small.
    let too_small = serde_json::json!([{"partNumber": 1, "eTag": e1}, {"partNumber": 2, "eTag": e2}, {"partNumber": "3", "eTag": e3}]);
    assert_eq!(error_code(&complete(too_small, None).await, 400), "EntityTooSmall");
    let garbage = post(
        &client,
        &format!("{base}/api/proxy/blockComplete"),
        &t,
        Via::Header,
        &[("id", &id), ("uploadId", &upload_id), ("parts", "!!notbase64!!")],
        None,
    )
    .await;
    assert_eq!(error_code(&garbage, 400), "InvalidArgument");
    // Parts 1 and 2 make a valid file; a wrong whole-file md5 is refused first.
    let good = serde_json::json!([{"partNumber": 1, "eTag": e1}, {"partNumber": "2", "eTag": e2.to_lowercase()}]);
    assert_eq!(error_code(&complete(good.clone(), Some("f".repeat(32))).await, 400), "BadDigest");
    // The session survived every refusal; cancel ends it.
    let ids = [("id", id.as_str()), ("uploadId", upload_id.as_str())];
    let cancel = post(&client, &format!("{base}/api/proxy/blockCancel"), &t, Via::Header, &ids, None).await;
    assert_eq!(cancel.status, 200, "{}", cancel.json);
    assert_eq!(cancel.json["code"], "OK");
    assert_request_id(&cancel.json["requestId"]);
    assert_eq!(error_code(&part("4", p3.clone(), None).await, 404), "NoSuchUpload");
    assert_eq!(error_code(&complete(good, None).await, 404), "NoSuchUpload");
    let again = post(&client, &format!("{base}/api/proxy/blockCancel.json"), &t, Via::Header, &ids, None).await;
    assert_eq!(error_code(&again, 404), "NoSuchUpload");
    // Unknown ids, and a session from another namespace's token, are no upload either.
    let other = token(&policy("secret"));
    let r = post(&client, &format!("{base}/api/proxy/blockCancel"), &other, Via::Header, &ids, None).await;
    assert_eq!(error_code(&r, 404), "NoSuchUpload");
    let bogus = [("id", "nope"), ("uploadId", "0123456789ABCDEF0123456789ABCDEF")];
    let r = post(&client, &format!("{base}/api/proxy/blockCancel"), &t, Via::Header, &bogus, None).await;
    assert_eq!(error_code(&r, 404), "NoSuchUpload");
}

#[tokio::test]
async fn token_failures_are_401_with_json_bodies_and_cors() {
    let emu = Emulator::fresh("wantu-auth", &[]);
    let client = http_client();
    let url = format!("{}/api/proxy/upload", emu.wantu);
    let fields = [("dir", "/a"), ("name", "x.bin")];
    let file = Some(("x.bin", &b"hello"[..]));

    let expired = token(&UploadPolicy::new("public", 1_000));
    assert_eq!(error_code(&post(&client, &url, &expired, Via::Header, &fields, file).await, 401), "TokenExpired");

    // Another policy under the original signature.
    let good = token(&policy("public"));
    let inner =
        String::from_utf8(yunup::encoding::decode_base64_lenient(good.split_once(' ').unwrap().1).unwrap()).unwrap();
    let sign = inner.rsplit_once(':').unwrap().1;
    let forged_policy = urlsafe_b64_nopad(r#"{"namespace":"public","expiration":-1,"insertOnly":0}"#);
    let tampered = format!("UPLOAD_AK_TOP {}", urlsafe_b64_nopad(format!("{AK}:{forged_policy}:{sign}")));
    let r = post(&client, &url, &tampered, Via::FormField, &fields, file).await;
    assert_eq!(error_code(&r, 401), "SignatureDoesNotMatch");

    let stranger = upload_token(&Credentials::new("nobody", SK), &policy("public")).unwrap();
    assert_eq!(
        error_code(&post(&client, &url, &stranger, Via::QueryPlus, &fields, file).await, 401),
        "InvalidAccessKeyId"
    );
    let r = post(&client, &url, "UPLOAD_AK_TOP !!!", Via::Header, &fields, file).await;
    assert_eq!(error_code(&r, 401), "InvalidAuthorization");
    let not_json = upload_token_for_json(&creds(), "not json");
    assert_eq!(error_code(&post(&client, &url, &not_json, Via::Header, &fields, file).await, 400), "InvalidPolicy");
    let nowhere = token(&policy("no-such-space"));
    assert_eq!(error_code(&post(&client, &url, &nowhere, Via::Header, &fields, file).await, 404), "NoSuchNamespace");

    // No token at all, from a page on another origin: a JSON 401 that the page may read.
    let (content_type, body) = form(&fields, file);
    let r = client
        .post(&url)
        .header("Origin", "http://page.example")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["access-control-allow-origin"], "http://page.example");
    let reply = Reply { status: r.status(), headers: r.headers().clone(), json: r.json().await.unwrap() };
    assert_eq!(error_code(&reply, 401), "InvalidAuthorization");

    // A preflight for the v1 browser SDK's custom headers.
    let r = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "http://page.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, useragent")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["access-control-allow-headers"].to_str().unwrap().contains("useragent"));

    // A body that is not a form, and an unknown operation.
    let r = client.post(&url).header("Authorization", &good).body("plain").send().await.unwrap();
    let reply = Reply { status: r.status(), headers: r.headers().clone(), json: r.json().await.unwrap() };
    assert_eq!(error_code(&reply, 400), "InvalidArgument");
    let r = client.post(format!("{}/api/proxy/blockMerge", emu.wantu)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.json::<Value>().await.unwrap()["requestId"].is_string());
}

#[tokio::test]
async fn insert_only_and_policy_limits() {
    let emu = Emulator::fresh("wantu-limits", &[]);
    let client = http_client();
    let url = format!("{}/api/proxy/upload.json", emu.wantu);
    let once = token(&UploadPolicy { insert_only: Some(1), ..policy("public") });
    let fields = [("dir", "/once"), ("name", "a.txt")];
    let r = post(&client, &url, &once, Via::Header, &fields, Some(("a.txt", b"first"))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["mimeType"], "text/plain");
    let r = post(&client, &url, &once, Via::Header, &fields, Some(("a.txt", b"second"))).await;
    assert_eq!(error_code(&r, 409), "FileAlreadyExists");
    assert_eq!(get_bytes(&client, &format!("{}/public/once/a.txt", emu.wantu)).await, b"first");
    // insertOnly=0 overwrites.
    let r = post(&client, &url, &token(&policy("public")), Via::Header, &fields, Some(("a.txt", b"third"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(get_bytes(&client, &format!("{}/public/once/a.txt", emu.wantu)).await, b"third");

    let small = token(&UploadPolicy { size_limit: Some(10), ..policy("public") });
    let r = post(&client, &url, &small, Via::Header, &[("name", "big.bin")], Some(("big.bin", b"01234567890"))).await;
    assert_eq!(error_code(&r, 413), "FileSizeLimitExceeded");

    let images = token(&UploadPolicy { mime_limit: Some("image/*".into()), ..policy("public") });
    let r = post(&client, &url, &images, Via::Header, &[("name", "t.txt")], Some(("t.txt", b"text"))).await;
    assert_eq!(error_code(&r, 415), "MimeTypeNotAllowed");
    let r = post(&client, &url, &images, Via::Header, &[("name", "p.bin")], Some(("p.bin", &png(3, 2)))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!((r.json["mimeType"].as_str(), r.json["isImage"].as_bool()), (Some("image/png"), Some(true)));

    // md5 and size fields must match the content; name is required.
    let plain = token(&policy("public"));
    let bad_md5 = [("name", "m.bin"), ("md5", "00000000000000000000000000000000")];
    assert_eq!(
        error_code(&post(&client, &url, &plain, Via::Header, &bad_md5, Some(("m.bin", b"abc"))).await, 400),
        "BadDigest"
    );
    let good_md5 = [("name", "m.bin"), ("md5", "900150983cd24fb0d6963f7d28e17f72")];
    assert_eq!(post(&client, &url, &plain, Via::Header, &good_md5, Some(("m.bin", b"abc"))).await.status, 200);
    let bad_size = [("name", "s.bin"), ("size", "4")];
    assert_eq!(
        error_code(&post(&client, &url, &plain, Via::Header, &bad_size, Some(("s.bin", b"abc"))).await, 400),
        "InvalidArgument"
    );
    let r = post(&client, &url, &plain, Via::Header, &[("dir", "/x")], Some(("n.bin", b"abc"))).await;
    assert_eq!(error_code(&r, 400), "InvalidArgument");
    let r = post(&client, &url, &plain, Via::Header, &[("name", "nofile")], None).await;
    assert_eq!(error_code(&r, 400), "InvalidArgument");
}

/// A PNG header of `w`×`h` (enough for sniffing and dimensions).
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(b"\x08\x06\x00\x00\x00rest-of-file");
    b
}

#[tokio::test]
async fn return_body_magic_variables_and_return_url() {
    let emu = Emulator::fresh("wantu-vars", &[]);
    let client = http_client();
    let url = format!("{}/api/proxy/upload", emu.wantu);
    let p = UploadPolicy {
        dir: Some("/${year}/${mediaType}".into()),
        name: Some("${uuid}.${ext}".into()),
        return_body: Some(
            r#"{"dir":${dir},"name":"${name}","size":${fileSize},"w":${width},"h":${height},"mime":${mimeType},"foo":${var.foo},"bar":"${bar}","etag":${eTag},"none":${nothing}}"#
                .into(),
        ),
        ..policy("public")
    };
    let image = png(640, 480);
    let fields =
        [("dir", "/ignored"), ("name", "ignored.bin"), ("var-foo", "F\"oo"), ("var-bar", "B"), ("meta-title", "T")];
    let r = post(&client, &url, &token(&p), Via::Header, &fields, Some(("pic", &image))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let j = &r.json;
    let year: u32 = j["dir"].as_str().unwrap().trim_start_matches('/').split('/').next().unwrap().parse().unwrap();
    assert!(year >= 2024);
    assert!(j["dir"].as_str().unwrap().ends_with("/image"));
    let name = j["name"].as_str().unwrap();
    assert!(name.ends_with(".png") && name.len() == 36 + 4, "{name}");
    assert_eq!(
        (j["size"].as_u64(), j["w"].as_u64(), j["h"].as_u64()),
        (Some(image.len() as u64), Some(640), Some(480))
    );
    assert_eq!(
        (j["mime"].as_str(), j["foo"].as_str(), j["bar"].as_str()),
        (Some("image/png"), Some("F\"oo"), Some("B"))
    );
    assert_eq!(j["etag"], md5_upper(&image).as_str());
    assert_eq!(j["none"], "");
    let stored = format!("{}/public{}/{name}", emu.wantu, j["dir"].as_str().unwrap());
    assert_eq!(get_bytes(&client, &stored).await, image);

    // returnUrl: 303 to the URL with the (default) reply in upload_ret.
    let no_redirects = client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let p = UploadPolicy { return_url: Some("http://page.example/done?x=1".into()), ..policy("public") };
    let r = post(&no_redirects, &url, &token(&p), Via::FormField, &[("name", "r.bin")], Some(("r.bin", b"ret"))).await;
    assert_eq!(r.status, 303);
    let location = r.headers["location"].to_str().unwrap();
    let ret = location.strip_prefix("http://page.example/done?x=1&upload_ret=").unwrap();
    let ret: Value = serde_json::from_slice(&yunup::encoding::decode_base64_lenient(ret).unwrap()).unwrap();
    assert_eq!((ret["code"].as_str(), ret["name"].as_str()), (Some("OK"), Some("r.bin")));
}

/// One HTTP request read off a socket: (head, body).
async fn read_request(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the request ended early");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return (head, buf[end + 4..end + 4 + length].to_vec());
            }
        }
    }
}

#[tokio::test]
async fn callback_is_posted_and_its_answer_relayed() {
    use tokio::io::AsyncWriteExt;
    let emu = Emulator::fresh("wantu-callback", &[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for answer in ["HTTP/1.1 200 OK", "HTTP/1.1 500 Internal Server Error"] {
            let (mut stream, _) = listener.accept().await.unwrap();
            seen.push(read_request(&mut stream).await);
            let body = r#"{"app":"accepted"}"#;
            let reply = format!(
                "{answer}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(reply.as_bytes()).await.unwrap();
        }
        seen
    });
    let client = http_client();
    let url = format!("{}/api/proxy/upload", emu.wantu);
    let p = UploadPolicy {
        callback_url: Some(format!("http://127.0.0.1:{port}/hook?from=wantu")),
        callback_host: Some("app.example".into()),
        callback_body: Some("name=${name}&size=${fileSize}&tag=${var.tag}".into()),
        ..policy("public")
    };
    let fields = [("dir", "/cb"), ("name", "a b.bin"), ("var-tag", "x&y")];
    let r = post(&client, &url, &token(&p), Via::Header, &fields, Some(("a b.bin", b"12345"))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json, serde_json::json!({"app": "accepted"}));
    let r = post(&client, &url, &token(&p), Via::Header, &fields, Some(("a b.bin", b"12345"))).await;
    assert_eq!(error_code(&r, 502), "CallbackFailed");
    let seen = tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
    let (head, body) = &seen[0];
    assert!(head.starts_with("POST /hook?from=wantu HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("Host: app.example\r\n"), "{head}");
    assert!(head.contains("Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"), "{head}");
    assert_eq!(String::from_utf8_lossy(body), "name=a%20b.bin&size=5&tag=x%26y");
}

#[tokio::test]
async fn raw_http11_reason_phrase_ok() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emu = Emulator::fresh("wantu-raw", &[]);
    let addr = emu.wantu.strip_prefix("http://").unwrap().to_owned();
    let t = token(&policy("public"));
    let (content_type, body) = form(&[("dir", "/raw"), ("name", "r.txt"), ("size", "2")], Some(("r.txt", b"hi")));
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/proxy/upload.json HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {t}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nUser-Agent: ALIMEDIASDK_PYTHON_TAE/1.0.0\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.to_ascii_lowercase().contains("\r\ncontent-type: application/json;charset=utf-8\r\n"), "{text}");
}

#[tokio::test]
async fn uploads_survive_a_restart() {
    let dir = temp_data_dir("wantu-restart");
    let client = http_client();
    let t = token(&policy("secret"));
    let bytes = data(4321, 9);
    let emu = Emulator::start(&dir, &[]);
    let url = format!("{}/api/proxy/upload", emu.wantu);
    let r = post(&client, &url, &t, Via::Header, &[("dir", "keep"), ("name", "k.bin")], Some(("k.bin", &bytes))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let init = post(
        &client,
        &format!("{}/api/proxy/blockInit", emu.wantu),
        &t,
        Via::Header,
        &[("dir", "keep"), ("name", "m.bin")],
        Some(("m.bin", &bytes)),
    )
    .await;
    assert_eq!(init.status, 200);
    emu.kill();
    let emu = Emulator::start(&dir, &[]);
    assert_eq!(get_bytes(&client, &format!("{}/secret/keep/k.bin", emu.wantu)).await, bytes);
    // The open session resumes after the restart.
    let parts = urlsafe_b64(serde_json::json!([{"partNumber": 1, "eTag": init.json["eTag"]}]).to_string());
    let fields = [
        ("id", init.json["id"].as_str().unwrap()),
        ("uploadId", init.json["uploadId"].as_str().unwrap()),
        ("parts", parts.as_str()),
    ];
    let r = post(&client, &format!("{}/api/proxy/blockComplete", emu.wantu), &t, Via::Header, &fields, None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(get_bytes(&client, &format!("{}/secret/keep/m.bin", emu.wantu)).await, bytes);
}

/// A `content` part with no `filename` is still the file (wantu.md §5: the file part is
/// `content`): its bytes are stored as sent, never read as text. Bytes that are not UTF-8 would
/// otherwise come back with U+FFFD in place of each bad sequence.
#[tokio::test]
async fn content_part_without_filename_keeps_binary_bytes() {
    let emu = Emulator::fresh("wantu-content-no-filename", &[]);
    let client = http_client();
    let t = token(&policy("public"));
    let mut bytes = vec![0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc];
    bytes.extend((0..=255u8).rev());
    bytes.extend(data(3000, 9));
    let boundary = "----yunupWantuNoFilename";
    for (i, with_size) in [true, false].into_iter().enumerate() {
        let name = format!("raw-{i}.bin");
        let mut body = Vec::new();
        let mut fields = vec![("dir", "/bin".to_owned()), ("name", name.clone())];
        if with_size {
            fields.push(("size", bytes.len().to_string()));
        }
        for (k, v) in &fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = client
            .post(format!("{}/api/proxy/upload.json", emu.wantu))
            .header("Authorization", &t)
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let j: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "size field {with_size}: {j}");
        assert_eq!(j["fileSize"].as_u64(), Some(bytes.len() as u64), "{j}");
        assert_eq!(j["eTag"], md5_upper(&bytes).as_str(), "{j}");
        assert_eq!(get_bytes(&client, j["url"].as_str().unwrap()).await, bytes, "size field {with_size}");
    }
}
