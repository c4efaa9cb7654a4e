//! The emulated UFile over real HTTP, signed with `yunup::sign::ufile`: simple and form uploads,
//! upload-hit, ranges, auth on private buckets, virtual-host and path style, multipart (parallel,
//! out of order, strict finish, abort, UVideo paths), listings, the put-policy callback, and a
//! `kill -9` in the middle of an upload. Each test starts its own emulator process.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{AK, Emulator, SK, temp_data_dir};
use reqwest::{Client, RequestBuilder};
use serde_json::Value;
use yunup::encoding::percent_encode;
use yunup::hash::{Hasher, Md5, UfileEtag, UfilePartEtag};
use yunup::sign::Credentials;
use yunup::sign::ufile::{PresignRequest, SignRequest, UploadPolicy, authorization, presigned_url};

const BLK: usize = 4 * 1024 * 1024;
const INVALID_SIGNATURE: &str = r#"{ "RetCode": -148658, "ErrMsg": "invalid signature" }"#;

fn creds() -> Credentials {
    Credentials::new(AK, SK)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A plain HTTP client. The `yunup` crate turns on reqwest's `rustls-no-provider` feature, which
/// feature unification applies to this test's reqwest too: building a client without a
/// process-wide rustls provider panics, and making yunup's native transport once installs one.
fn client() -> Client {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = yunup::runtime::native::ReqwestTransport::new();
    });
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

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

fn ufile_etag(bytes: &[u8]) -> String {
    UfileEtag::digest(bytes)
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).to_hex()
}

/// `UCloud pub:sig` over method, Content-Type, Content-MD5 and `/bucket/key`.
fn auth(method: &str, bucket: &str, key: &str, content_type: &str, content_md5: &str) -> String {
    sign(SignRequest {
        method: method.into(),
        bucket: bucket.into(),
        key: key.into(),
        content_type: content_type.into(),
        content_md5: content_md5.into(),
        ..Default::default()
    })
}

fn sign(request: SignRequest) -> String {
    authorization(&creds(), &request).unwrap()
}

/// Requests to one bucket, path style (`http://127.0.0.1:port/<bucket>/<key>`) or virtual-host
/// style (`http://127.0.0.1:port/<key>` with `Host: <bucket>.localhost`).
#[derive(Clone)]
struct Bucket {
    client: Client,
    base: String,
    name: String,
    vhost: bool,
}

impl Bucket {
    fn path_style(emu: &Emulator, name: &str) -> Self {
        Bucket { client: client(), base: emu.ufile.clone(), name: name.into(), vhost: false }
    }

    fn vhost(emu: &Emulator, name: &str) -> Self {
        Bucket { client: client(), base: emu.ufile.clone(), name: name.into(), vhost: true }
    }

    /// The URL of `key` (percent-encoded, `/` kept) with an optional query.
    fn url(&self, key: &str, query: &str) -> String {
        let path = percent_encode(key, true);
        let q = if query.is_empty() { String::new() } else { format!("?{query}") };
        if self.vhost { format!("{}/{path}{q}", self.base) } else { format!("{}/{}/{path}{q}", self.base, self.name) }
    }

    fn request(&self, method: reqwest::Method, key: &str, query: &str) -> RequestBuilder {
        let r = self.client.request(method, self.url(key, query));
        if self.vhost { r.header("Host", format!("{}.localhost", self.name)) } else { r }
    }

    async fn put(&self, key: &str, body: &[u8], content_type: &str) -> reqwest::Response {
        self.request(reqwest::Method::PUT, key, "")
            .header("Content-Type", content_type)
            .header("Authorization", auth("PUT", &self.name, key, content_type, ""))
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, key: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, key, "")
            .header("Authorization", auth("GET", &self.name, key, "", ""))
            .send()
            .await
            .unwrap()
    }

    async fn initiate(&self, key: &str) -> Value {
        let r = self
            .request(reqwest::Method::POST, key, "uploads")
            .header("Content-Type", "text/plain")
            .header("Authorization", auth("POST", &self.name, key, "text/plain", ""))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        r.json().await.unwrap()
    }

    async fn part(&self, key: &str, upload_id: &str, number: usize, bytes: Vec<u8>) -> reqwest::Response {
        self.request(reqwest::Method::PUT, key, &format!("uploadId={upload_id}&partNumber={number}"))
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", auth("PUT", &self.name, key, "application/octet-stream", ""))
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    async fn finish(&self, key: &str, upload_id: &str, body: &str) -> reqwest::Response {
        self.request(reqwest::Method::POST, key, &format!("uploadId={upload_id}"))
            .header("Content-Type", "text/plain")
            .header("Authorization", auth("POST", &self.name, key, "text/plain", ""))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn list_parts(&self, upload_id: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, "", &format!("muploadpart&uploadId={upload_id}"))
            .header("Authorization", auth("GET", &self.name, "", "", ""))
            .send()
            .await
            .unwrap()
    }
}

fn etag_header(r: &reqwest::Response) -> String {
    r.headers().get("etag").expect("an ETag header").to_str().unwrap().to_owned()
}

async fn assert_error(r: reqwest::Response, status: u16, retcode: i64) -> String {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(r.headers()["content-type"], "application/json", "exactly application/json");
    assert!(r.headers().contains_key("x-sessionid"), "every error carries X-SessionId");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["RetCode"], retcode, "{body}");
    body["ErrMsg"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn put_get_head_delete_round_trip_in_both_addressing_styles() {
    let emu = Emulator::fresh("ufile-roundtrip", &[]);
    for (style, bucket) in [("path", Bucket::path_style(&emu, "public")), ("vhost", Bucket::vhost(&emu, "public"))] {
        let key = format!("{style}/dir/a b+c 中文.bin");
        let body = data(100_000, 7);
        let etag = format!("\"{}\"", ufile_etag(&body));

        let r = bucket
            .request(reqwest::Method::PUT, &key, "")
            .header("Content-Type", "image/png")
            .header("X-Ufile-Meta-Owner", "alice")
            .header("Authorization", auth("PUT", "public", &key, "image/png", ""))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{style}: {:?}", r.text().await);
        assert_eq!(etag_header(&r), etag, "{style}: the ETag is quoted and is the UFile etag");
        assert!(r.headers().contains_key("x-sessionid"));
        assert_eq!(r.bytes().await.unwrap().len(), 0, "PutFile answers with an empty body");

        let r = bucket.get(&key).await;
        assert_eq!(r.status(), 200);
        assert_eq!(etag_header(&r), etag);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.headers()["x-ufile-meta-owner"], "alice");
        assert_eq!(r.headers()["x-ufile-storage-class"], "STANDARD");
        assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());

        // Public bucket: no signature needed to read.
        let r = bucket.request(reqwest::Method::GET, &key, "").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());

        let r = bucket
            .request(reqwest::Method::HEAD, &key, "")
            .header("Authorization", auth("HEAD", "public", &key, "", ""))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-length"], body.len().to_string().as_str());
        assert_eq!(etag_header(&r), etag);

        let r = bucket
            .request(reqwest::Method::DELETE, &key, "")
            .header("Authorization", auth("DELETE", "public", &key, "", ""))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_error(bucket.get(&key).await, 404, -148601).await;
    }

    // A signature over another key, and an unknown bucket.
    let bucket = Bucket::path_style(&emu, "public");
    let r = bucket
        .request(reqwest::Method::PUT, "x", "")
        .header("Content-Type", "text/plain")
        .header("Authorization", auth("PUT", "public", "y", "text/plain", ""))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_error(r, 403, -148658).await;
    let r = client().get(format!("{}/nosuch/key", emu.ufile)).send().await.unwrap();
    assert_eq!(assert_error(r, 404, -30010).await, "bucket not exist");
    // An empty key is refused for object operations.
    let r = bucket
        .request(reqwest::Method::PUT, "", "")
        .header("Authorization", auth("PUT", "public", "", "", ""))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, -148600).await;
}

#[tokio::test]
async fn ranges_answer_206_and_416() {
    let emu = Emulator::fresh("ufile-range", &[]);
    let bucket = Bucket::path_style(&emu, "public");
    let body = data(1000, 3);
    assert_eq!(bucket.put("r.bin", &body, "application/octet-stream").await.status(), 200);

    let r = bucket.request(reqwest::Method::GET, "r.bin", "").header("Range", "bytes=0-50").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 0-50/1000");
    assert_eq!(r.headers()["content-length"], "51");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[..=50]);

    let r = bucket.request(reqwest::Method::GET, "r.bin", "").header("Range", "bytes=990-").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 990-999/1000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[990..]);

    let r = bucket.request(reqwest::Method::GET, "r.bin", "").header("Range", "bytes=1000-1001").send().await.unwrap();
    assert!(!r.headers().contains_key("content-range"), "the Python SDK crashes on `bytes */1000`");
    assert_error(r, 416, -148606).await;
}

#[tokio::test]
async fn private_bucket_needs_a_valid_signature() {
    let emu = Emulator::fresh("ufile-private", &[]);
    for bucket in [Bucket::path_style(&emu, "secret"), Bucket::vhost(&emu, "secret")] {
        let body = b"top secret".to_vec();
        assert_eq!(bucket.put("dir/s.txt", &body, "text/plain").await.status(), 200);

        // Unauthenticated: 403 with exactly the real service's body and Content-Type.
        let r = bucket.request(reqwest::Method::GET, "dir/s.txt", "").send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.headers().contains_key("x-sessionid"));
        assert_eq!(r.text().await.unwrap(), INVALID_SIGNATURE);

        // Header auth.
        let r = bucket.get("dir/s.txt").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());

        // A presigned URL (signature percent-encoded) works; so does a raw `+` in it.
        let base = if bucket.vhost { emu.ufile.clone() } else { format!("{}/secret", emu.ufile) };
        let presign = PresignRequest::get("secret", "dir/s.txt", now_secs() + 300);
        let url = presigned_url(&creds(), &base, &presign).unwrap();
        let send = |url: String| {
            let b = bucket.clone();
            async move {
                let r = b.client.get(url);
                let r = if b.vhost { r.header("Host", "secret.localhost") } else { r };
                r.send().await.unwrap()
            }
        };
        let r = send(url.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());
        let raw = url.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=");
        assert_eq!(send(raw).await.status(), 200, "raw signatures (Python's public URL) are accepted");

        // Expired.
        let expired =
            presigned_url(&creds(), &base, &PresignRequest::get("secret", "dir/s.txt", now_secs() - 5)).unwrap();
        let r = send(expired).await;
        assert_eq!(r.status(), 403);
        assert!(r.headers()["x-yunup-detail"].to_str().unwrap().contains("expired"));
        assert_eq!(r.text().await.unwrap(), INVALID_SIGNATURE);

        // Tampered: one signature character changed, or another expiry than the signed one.
        let sig_at = url.find("Signature=").unwrap() + "Signature=".len();
        let mut tampered = url.clone().into_bytes();
        tampered[sig_at] = if tampered[sig_at] == b'A' { b'B' } else { b'A' };
        let r = send(String::from_utf8(tampered).unwrap()).await;
        assert_eq!(r.status(), 403);
        assert_eq!(r.text().await.unwrap(), INVALID_SIGNATURE);
        let other_expiry =
            url.replace(&format!("Expires={}", presign.expires), &format!("Expires={}", presign.expires + 1));
        assert_eq!(send(other_expiry).await.status(), 403);

        // A header signature by an unknown key, or for another method.
        let r = bucket
            .request(reqwest::Method::GET, "dir/s.txt", "")
            .header("Authorization", "UCloud nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), INVALID_SIGNATURE);
        let r = bucket
            .request(reqwest::Method::GET, "dir/s.txt", "")
            .header("Authorization", auth("HEAD", "secret", "dir/s.txt", "", ""))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
}

#[tokio::test]
async fn content_md5_is_verified_and_signed() {
    let emu = Emulator::fresh("ufile-md5", &[]);
    let bucket = Bucket::path_style(&emu, "public");
    let body = b"hello".to_vec();
    let good = md5_hex(&body);
    let put = |md5: String, sign_md5: String| {
        let bucket = bucket.clone();
        let body = body.clone();
        async move {
            bucket
                .request(reqwest::Method::PUT, "m.txt", "")
                .header("Content-Type", "text/plain")
                .header("Content-MD5", md5)
                .header("Authorization", auth("PUT", "public", "m.txt", "text/plain", &sign_md5))
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = md5_hex(b"other");
    let message = assert_error(put(wrong.clone(), wrong).await, 400, -148603).await;
    assert!(message.contains("mismatch"), "{message}");
    assert_error(bucket.get("m.txt").await, 404, -148601).await;
    // Signed without the MD5 that is sent: a signature error.
    assert_error(put(good.clone(), String::new()).await, 403, -148658).await;
    let r = put(good.clone(), good).await;
    assert_eq!(r.status(), 200);
    assert_eq!(etag_header(&r), "\"AQAAAKr0xh3cxeii2r7eDztILNmuqUNN\"");
}

/// A multipart/form-data body as the Python SDK writes it: fields, then the file, and no closing
/// `--boundary--`.
fn python_form(boundary: &str, fields: &[(&str, &str)], mime: &str, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"local.png\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(content);
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out
}

#[tokio::test]
async fn form_upload_signs_the_file_type_and_takes_the_key_from_filename() {
    let emu = Emulator::fresh("ufile-form", &[]);
    let bucket = Bucket::vhost(&emu, "secret");
    let content = data(300_000, 11);
    let boundary = "0123456789abcdef0123456789abcdef";
    let post = |fields: Vec<(String, String)>| {
        let bucket = bucket.clone();
        let content = content.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            bucket
                .request(reqwest::Method::POST, "", "")
                .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
                .body(python_form(boundary, &fields, "image/png", &content))
                .send()
                .await
                .unwrap()
        }
    };
    let key = "forms/up load.png";
    // Signed over the multipart Content-Type instead of the file's: refused, nothing stored.
    let wrong = auth("POST", "secret", key, &format!("multipart/form-data; boundary={boundary}"), "");
    let r = post(vec![("FileName".into(), key.into()), ("Authorization".into(), wrong)]).await;
    assert_eq!(r.text().await.unwrap(), INVALID_SIGNATURE);
    assert_error(bucket.get(key).await, 404, -148601).await;

    let right = auth("POST", "secret", key, "image/png", "");
    let r = post(vec![("FileName".into(), key.into()), ("Authorization".into(), right)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(etag_header(&r), format!("\"{}\"", ufile_etag(&content)));
    let r = bucket.get(key).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), content.as_slice());

    // No file part.
    let r = bucket
        .request(reqwest::Method::POST, "", "")
        .header("Content-Type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"FileName\"\r\n\r\nk\r\n--b--\r\n")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, -148600).await;

    // No stray blobs from the refused upload.
    let blobs = std::fs::read_dir(emu.data.join("blobs")).unwrap().count();
    assert_eq!(blobs, 1, "only the stored object's blob is on disk");
}

#[tokio::test]
async fn upload_hit_hits_and_misses() {
    let emu = Emulator::fresh("ufile-hit", &[]);
    let bucket = Bucket::path_style(&emu, "public");
    let content = data(5 * 1024 * 1024, 5);
    assert_eq!(bucket.put("orig.bin", &content, "application/octet-stream").await.status(), 200);
    let hit = |hash: String, size: usize, key: &'static str| {
        let bucket = bucket.clone();
        async move {
            let query = format!("Hash={hash}&FileName={}&FileSize={size}", percent_encode(key, false));
            bucket
                .request(reqwest::Method::POST, "uploadhit", &query)
                .header("Content-Type", "application/octet-stream")
                .header("Authorization", auth("POST", "public", key, "application/octet-stream", ""))
                .send()
                .await
                .unwrap()
        }
    };
    let etag = ufile_etag(&content);
    let r = hit(etag.clone(), content.len(), "copy/of orig.bin").await;
    assert_eq!(r.status(), 200);
    let r = bucket.get("copy/of orig.bin").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), content.as_slice());

    let r = hit(etag.clone(), content.len() + 1, "miss.bin").await;
    assert_error(r, 404, -148601).await;
    let r = hit(ufile_etag(b"never uploaded"), 14, "miss.bin").await;
    assert_eq!(r.status(), 404);
    assert_error(bucket.get("miss.bin").await, 404, -148601).await;
}

#[tokio::test]
async fn multipart_parts_in_parallel_and_out_of_order_then_strict_finish() {
    let emu = Emulator::fresh("ufile-multipart", &[]);
    let bucket = Bucket::vhost(&emu, "secret");
    let key = "big/file.bin";
    let content = data(2 * BLK + 1_234_567, 9);
    let init = bucket.initiate(key).await;
    assert_eq!(init["BlkSize"], 4194304);
    assert_eq!(init["Bucket"], "secret");
    assert_eq!(init["Key"], key);
    let id = init["UploadId"].as_str().unwrap().to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "URL-safe: {id}");

    // Parts 2, 0, 1 at once; part 1 twice (the second replaces the first).
    let chunks: Vec<Vec<u8>> = content.chunks(BLK).map(<[u8]>::to_vec).collect();
    let mut tasks = Vec::new();
    for n in [2usize, 0, 1, 1] {
        let (bucket, id, chunk) = (bucket.clone(), id.clone(), chunks[n].clone());
        tasks.push(tokio::spawn(async move {
            let r = bucket.part(key, &id, n, chunk).await;
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "application/json");
            let etag = etag_header(&r);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["PartNumber"], n);
            (n, etag)
        }));
    }
    for task in tasks {
        let (n, etag) = task.await.unwrap();
        assert_eq!(etag, format!("\"{}\"", UfilePartEtag::digest(&chunks[n])), "part {n}");
    }
    let etags: Vec<String> = chunks.iter().map(|c| UfilePartEtag::digest(c)).collect();

    let r = bucket.list_parts(&id).await;
    assert_eq!(r.status(), 200);
    let listed: Value = r.json().await.unwrap();
    let parts = listed["Parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["PartNum"], i);
        assert_eq!(p["Etag"], etags[i].as_str());
        assert_eq!(p["Size"], chunks[i].len());
    }

    // Wrong order, a wrong etag, a missing entry, an empty entry: refused, the upload survives.
    let msg =
        assert_error(bucket.finish(key, &id, &format!("{},{},{}", etags[1], etags[0], etags[2])).await, 400, -148604)
            .await;
    assert!(msg.contains("part-number order"), "{msg}");
    let bogus = UfilePartEtag::digest(b"bogus");
    assert_error(bucket.finish(key, &id, &format!("{},{},{bogus}", etags[0], etags[1])).await, 400, -148604).await;
    let msg = assert_error(bucket.finish(key, &id, &format!("{},{}", etags[0], etags[1])).await, 400, -148604).await;
    assert!(msg.contains("not list"), "{msg}");
    let msg =
        assert_error(bucket.finish(key, &id, &format!("{},,{},{}", etags[0], etags[1], etags[2])).await, 400, -148604)
            .await;
    assert!(msg.contains("empty"), "{msg}");
    assert_error(bucket.get(key).await, 404, -148601).await;

    // Right: quoted as the Python SDK sends them.
    let body = etags.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(",");
    let r = bucket.finish(key, &id, &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(etag_header(&r), format!("\"{}\"", ufile_etag(&content)));
    let done: Value = r.json().await.unwrap();
    assert_eq!(done, serde_json::json!({"Bucket": "secret", "Key": key, "FileSize": content.len()}));

    let r = bucket.get(key).await;
    assert_eq!(etag_header(&r), format!("\"{}\"", ufile_etag(&content)));
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(r.bytes().await.unwrap().as_ref() == content.as_slice(), "the assembled object is byte-identical");

    // The upload is gone.
    assert_error(bucket.finish(key, &id, &body).await, 404, -148602).await;
    assert_error(bucket.list_parts(&id).await, 404, -148602).await;
}

#[tokio::test]
async fn multipart_size_rules_abort_and_listing_uploads() {
    let emu = Emulator::fresh("ufile-abort", &[]);
    let bucket = Bucket::path_style(&emu, "public");

    // A short part that is not the last one.
    let id = bucket.initiate("short.bin").await["UploadId"].as_str().unwrap().to_owned();
    let (a, b) = (data(1000, 1), data(1000, 2));
    assert_eq!(bucket.part("short.bin", &id, 0, a.clone()).await.status(), 200);
    assert_eq!(bucket.part("short.bin", &id, 1, b.clone()).await.status(), 200);
    let body = format!("{},{}", UfilePartEtag::digest(&a), UfilePartEtag::digest(&b));
    let msg = assert_error(bucket.finish("short.bin", &id, &body).await, 400, -148604).await;
    assert!(msg.contains("4194304"), "{msg}");
    // A part over BlkSize.
    assert_error(bucket.part("short.bin", &id, 2, vec![0; BLK + 1]).await, 400, -148605).await;
    // Part numbers are numbers.
    let r = bucket
        .request(reqwest::Method::PUT, "short.bin", &format!("uploadId={id}&partNumber=x"))
        .header("Authorization", auth("PUT", "public", "short.bin", "", ""))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, -148600).await;

    // In-progress uploads are listed.
    let other = bucket.initiate("other.bin").await["UploadId"].as_str().unwrap().to_owned();
    let r = bucket
        .request(reqwest::Method::GET, "", "muploadid&prefix=&marker=&limit=20")
        .header("Authorization", auth("GET", "public", "", "", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    let ids: Vec<&str> = list["DataSet"].as_array().unwrap().iter().map(|u| u["UploadId"].as_str().unwrap()).collect();
    assert_eq!(ids, [other.as_str(), id.as_str()], "ordered by key: other.bin, short.bin");

    // Abort: 200, then the upload is gone for parts, finish and listing.
    let r = bucket
        .request(reqwest::Method::DELETE, "short.bin", &format!("uploadId={id}"))
        .header("Authorization", auth("DELETE", "public", "short.bin", "", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_error(bucket.part("short.bin", &id, 2, a.clone()).await, 404, -148602).await;
    assert_error(bucket.finish("short.bin", &id, &body).await, 404, -148602).await;
    assert_error(bucket.list_parts(&id).await, 404, -148602).await;
    // An upload id only works for its own key.
    assert_error(bucket.part("short.bin", &other, 0, a).await, 404, -148602).await;
}

#[tokio::test]
async fn uvideo_proxy_paths_with_a_bucket_header() {
    let emu = Emulator::fresh("ufile-uvideo", &[]);
    let c = client();
    let key = "videos/clip one.mp4";
    let enc = percent_encode(key, false);
    let content = data(BLK + 10, 4);
    let r = c
        .post(format!("{}/init/uvideoUploads/{enc}?uploads", emu.ufile))
        .header("Bucket", "secret")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Authorization", auth("POST", "secret", key, "application/x-www-form-urlencoded", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["UploadId"].as_str().unwrap().to_owned();
    let mut etags = Vec::new();
    for (n, chunk) in content.chunks(BLK).enumerate() {
        let r = c
            .put(format!("{}/uvideoUploads/{enc}?uploadId={id}&partNumber={n}", emu.ufile))
            .header("Bucket", "secret")
            .header("Content-Type", "video/mp4")
            .header("Authorization", auth("PUT", "secret", key, "video/mp4", ""))
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        etags.push(etag_header(&r).trim_matches('"').to_owned());
    }
    let r = c
        .post(format!("{}/finish/uvideoUploads/{enc}?uploadId={id}", emu.ufile))
        .header("Bucket", "secret")
        .header("Content-Type", "text/plain")
        .header("Authorization", auth("POST", "secret", key, "text/plain", ""))
        .body(etags.join(","))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["FileSize"], content.len());
    let r = Bucket::path_style(&emu, "secret").get(key).await;
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert!(r.bytes().await.unwrap().as_ref() == content.as_slice());
}

#[tokio::test]
async fn prefix_list_and_list_objects() {
    let emu = Emulator::fresh("ufile-list", &[]);
    let bucket = Bucket::path_style(&emu, "public");
    for key in ["a/1.txt", "a/2.txt", "a/sub/3.txt", "b.txt", "c/4.txt"] {
        assert_eq!(bucket.put(key, key.as_bytes(), "text/plain").await.status(), 200);
    }
    let get = |query: String, signed: String| {
        let bucket = bucket.clone();
        async move {
            let r =
                bucket.request(reqwest::Method::GET, "", &query).header("Authorization", signed).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "application/json");
            r.json::<Value>().await.unwrap()
        }
    };
    let signed = auth("GET", "public", "", "", "");
    let page = get("list&prefix=a%2F&marker=&limit=2".into(), signed.clone()).await;
    let names: Vec<&str> =
        page["DataSet"].as_array().unwrap().iter().map(|o| o["FileName"].as_str().unwrap()).collect();
    assert_eq!(names, ["a/1.txt", "a/2.txt"]);
    assert_eq!(page["NextMarker"], "a/2.txt");
    assert_eq!(page["DataSet"][0]["Hash"], ufile_etag(b"a/1.txt").as_str());
    let page = get("list&prefix=a%2F&marker=a%2F2.txt&limit=2".into(), signed.clone()).await;
    assert_eq!(page["DataSet"].as_array().unwrap().len(), 1);
    assert_eq!(page["NextMarker"], "");

    let page = get("listobjects&prefix=&marker=&max-keys=3&delimiter=%2F".into(), signed.clone()).await;
    let keys: Vec<&str> = page["Contents"].as_array().unwrap().iter().map(|o| o["Key"].as_str().unwrap()).collect();
    let prefixes: Vec<&str> =
        page["CommonPrefixes"].as_array().unwrap().iter().map(|p| p["Prefix"].as_str().unwrap()).collect();
    assert_eq!((keys, prefixes), (vec!["b.txt"], vec!["a/", "c/"]));
    assert_eq!(page["MaxKeys"], "3");
    assert_eq!(page["Contents"][0]["Size"], "5");
    assert_eq!(page["IsTruncated"], false);
    let page = get("listobjects&prefix=a%2F&marker=&max-keys=2&delimiter=%2F".into(), signed.clone()).await;
    assert_eq!(page["IsTruncated"], true);
    assert_eq!(page["NextMarker"], "a/2.txt");
    let page = get("listobjects&prefix=a%2F&marker=a%2F2.txt&max-keys=2&delimiter=%2F".into(), signed.clone()).await;
    assert_eq!(page["CommonPrefixes"][0]["Prefix"], "a/sub/");
    assert_eq!(page["IsTruncated"], false);

    // The Python SDK's signature: the query appended to the resource (§6.4 variant e).
    let mut python =
        SignRequest { method: "GET".into(), bucket: "public".into(), ..Default::default() }.string_to_sign();
    python.push_str("\nlistobjects\ndelimiter:/\nmarker:\nmax-keys:100\nprefix:a/");
    let sig = yunup::sign::ufile::signature(&creds(), &python);
    let page =
        get("listobjects&marker=&prefix=a%2F&max-keys=100&delimiter=%2F".into(), format!("UCloud {AK}:{sig}")).await;
    assert_eq!(page["Contents"].as_array().unwrap().len(), 2);
    // Listing needs a signature even on a public bucket.
    let r = bucket.request(reqwest::Method::GET, "", "list").send().await.unwrap();
    assert_eq!(r.status(), 403);
}

/// A one-shot HTTP server that records the callback request and answers `answer` as JSON.
async fn callback_server(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb?x=1", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.read(&mut buf).await.unwrap();
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if raw.len() >= end + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        sock.write_all(reply.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&raw).into_owned()
    });
    (url, task)
}

#[tokio::test]
async fn put_policy_callback_is_posted_and_relayed() {
    let emu = Emulator::fresh("ufile-callback", &[]);
    let bucket = Bucket::path_style(&emu, "public");
    let (url, server) = callback_server(r#"{"ok":true,"id":42}"#).await;
    let mut policy = UploadPolicy::new(url, "key=k.txt&user=$(x:user)");
    policy.callback_var.insert("x:user".into(), "alice".into());
    let r = put_with_policy(&bucket, "k.txt", "hello", policy.encode().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(etag_header(&r), "\"AQAAAKr0xh3cxeii2r7eDztILNmuqUNN\"");
    assert_eq!(r.json::<Value>().await.unwrap(), serde_json::json!({"ok": true, "id": 42}));
    let request = server.await.unwrap();
    assert!(request.starts_with("POST /cb?x=1 HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("Content-Type: application/x-www-form-urlencoded"), "{request}");
    assert!(request.ends_with("key=k.txt&user=alice"), "{request}");

    // An unreachable callback: 502, the object is stored all the same.
    let dead = UploadPolicy::new("http://127.0.0.1:9/cb", "a=b").encode().unwrap();
    let r = put_with_policy(&bucket, "k2.txt", "x", dead).await;
    assert_error(r, 502, -148607).await;
    assert_eq!(bucket.get("k2.txt").await.status(), 200);

    // A signed policy that does not decode: refused before anything is stored (it was stored,
    // then refused).
    let r = put_with_policy(&bucket, "k3.txt", "x", "bm90IGpzb24=".into()).await; // "not json"
    let message = assert_error(r, 400, -148600).await;
    assert!(message.contains("put policy"), "{message}");
    assert_eq!(bucket.get("k3.txt").await.status(), 404);
}

/// `PUT key` of `body` as text/plain, signed with the (encoded) put policy `policy`.
async fn put_with_policy(bucket: &Bucket, key: &str, body: &'static str, policy: String) -> reqwest::Response {
    let signed = sign(SignRequest {
        method: "PUT".into(),
        bucket: "public".into(),
        key: key.into(),
        content_type: "text/plain".into(),
        put_policy: Some(policy),
        ..Default::default()
    });
    bucket
        .request(reqwest::Method::PUT, key, "")
        .header("Content-Type", "text/plain")
        .header("Authorization", signed)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A request body that sends `first`, then waits forever (until the connection dies).
fn stalled_body(first: Vec<u8>) -> reqwest::Body {
    let stream = futures_util::stream::unfold(Some(first), |state| async move {
        match state {
            Some(chunk) => Some((Ok::<_, std::io::Error>(chunk), None)),
            None => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                None
            }
        }
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test]
async fn kill_9_mid_upload_keeps_acknowledged_parts_and_never_shows_half_objects() {
    let dir = temp_data_dir("ufile-kill");
    let emu = Emulator::start(&dir, &[]);
    let bucket = Bucket::path_style(&emu, "secret");
    let key = "crash/big.bin";
    let content = data(2 * BLK + 777, 13);
    let chunks: Vec<Vec<u8>> = content.chunks(BLK).map(<[u8]>::to_vec).collect();
    let id = bucket.initiate(key).await["UploadId"].as_str().unwrap().to_owned();
    assert_eq!(bucket.part(key, &id, 2, chunks[2].clone()).await.status(), 200);
    assert_eq!(bucket.part(key, &id, 0, chunks[0].clone()).await.status(), 200);

    // An existing object, then an overwrite of it and part 1, both cut off halfway by the kill.
    let old = data(1000, 99);
    assert_eq!(bucket.put("crash/obj.bin", &old, "application/octet-stream").await.status(), 200);
    let new = data(3 * 1024 * 1024, 100);
    let overwrite = bucket
        .request(reqwest::Method::PUT, "crash/obj.bin", "")
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", new.len())
        .header("Authorization", auth("PUT", "secret", "crash/obj.bin", "application/octet-stream", ""))
        .body(stalled_body(new[..new.len() / 2].to_vec()))
        .send();
    let part1 = bucket
        .request(reqwest::Method::PUT, key, &format!("uploadId={id}&partNumber=1"))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", BLK)
        .header("Authorization", auth("PUT", "secret", key, "application/octet-stream", ""))
        .body(stalled_body(chunks[1][..BLK / 2].to_vec()))
        .send();
    let in_flight = tokio::spawn(async move {
        let (a, b) = tokio::join!(overwrite, part1);
        (a.is_err(), b.is_err())
    });
    // Wait until the half bodies are on disk, in tmp/.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tmp_bytes: u64 =
            std::fs::read_dir(dir.join("tmp")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        if tmp_bytes + (1 << 20) >= (new.len() / 2 + BLK / 2) as u64 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the half bodies never reached the emulator");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    emu.kill();
    assert_eq!(in_flight.await.unwrap(), (true, true), "both requests failed with the process");

    let emu = Emulator::start(&dir, &[]);
    let bucket = Bucket::path_style(&emu, "secret");
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0, "half-written files are collected");
    let r = bucket.get("crash/obj.bin").await;
    assert!(r.bytes().await.unwrap().as_ref() == old.as_slice(), "the old object, whole, not half the new one");
    let listed: Value = bucket.list_parts(&id).await.json().await.unwrap();
    let numbers: Vec<u64> =
        listed["Parts"].as_array().unwrap().iter().map(|p| p["PartNum"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [0, 2], "acknowledged parts survive; the half part does not count");
    assert_error(bucket.get(key).await, 404, -148601).await;

    assert_eq!(bucket.part(key, &id, 1, chunks[1].clone()).await.status(), 200);
    let body = chunks.iter().map(|c| UfilePartEtag::digest(c)).collect::<Vec<_>>().join(",");
    let r = bucket.finish(key, &id, &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(etag_header(&r), format!("\"{}\"", ufile_etag(&content)));
    let r = bucket.get(key).await;
    assert!(r.bytes().await.unwrap().as_ref() == content.as_slice());
}

#[tokio::test]
async fn absolute_form_targets_as_sent_through_a_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emu = Emulator::fresh("ufile-proxy", &[]);
    let addr = emu.ufile.trim_start_matches("http://").to_owned();
    let key = "p/x y.txt";
    let signed = auth("PUT", "public", key, "text/plain", "");
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "PUT http://public.cn-bj.ufileos.com/p/x%20y.txt HTTP/1.1\r\nHost: public.cn-bj.ufileos.com\r\n\
         Content-Type: text/plain\r\nAuthorization: {signed}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    sock.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.to_ascii_lowercase().contains("etag: \"aqaaakr0xh3cxeii2r7edztilnmuqunn\""), "{reply}");
    let r = Bucket::path_style(&emu, "public").get(key).await;
    assert_eq!(r.text().await.unwrap(), "hello");
}

/// The signature is compared as the exact standard, padded base64 string the service computes
/// (ufile.md §2.1: "Base64 is standard (`+/=`), not URL-safe"; "Exactly one space after
/// `UCloud`"): the same HMAC in the URL-safe alphabet or without its `=` is refused, as is a
/// second space after `UCloud`, in the header and in a signed URL's `Signature`.
#[tokio::test]
async fn signatures_must_be_exact_standard_base64() {
    let emu = Emulator::fresh("ufile-strict-sig", &[]);
    let bucket = Bucket::path_style(&emu, "secret");
    let variants = |sig: &str| -> Vec<(&'static str, String)> {
        vec![
            ("url-safe alphabet", sig.replace('+', "-").replace('/', "_")),
            ("no padding", sig.trim_end_matches('=').to_owned()),
            ("url-safe, no padding", sig.replace('+', "-").replace('/', "_").trim_end_matches('=').to_owned()),
        ]
    };

    // A key whose GET signature has a `+` or `/`, so that the URL-safe alphabet differs.
    let key = (0..)
        .map(|i| format!("strict/{i}.txt"))
        .find(|k| auth("GET", "secret", k, "", "").contains(['+', '/']))
        .unwrap();
    assert_eq!(bucket.put(&key, b"exact", "text/plain").await.status(), 200);
    let good = auth("GET", "secret", &key, "", "");
    let r = bucket.request(reqwest::Method::GET, &key, "").header("Authorization", &good).send().await.unwrap();
    assert_eq!(r.status(), 200, "the correct signature passes");
    let (public, sig) = good.strip_prefix("UCloud ").unwrap().split_once(':').unwrap();
    let mut bad: Vec<(String, String)> =
        variants(sig).into_iter().map(|(what, s)| (what.to_owned(), format!("UCloud {public}:{s}"))).collect();
    bad.push(("two spaces after UCloud".into(), format!("UCloud  {public}:{sig}")));
    for (what, value) in bad {
        let r = bucket.request(reqwest::Method::GET, &key, "").header("Authorization", &value).send().await.unwrap();
        assert_eq!(r.status(), 403, "{what}: {value}");
        assert_eq!(r.text().await.unwrap(), INVALID_SIGNATURE, "{what}");
    }

    // A signed URL: percent-encoded standard base64 passes, other spellings of the HMAC do not.
    let base = format!("{}/secret", emu.ufile);
    let url = (300..)
        .map(|d| presigned_url(&creds(), &base, &PresignRequest::get("secret", key.as_str(), now_secs() + d)).unwrap())
        .find(|u| u.contains("%2B") || u.contains("%2F"))
        .unwrap();
    let start = url.find("Signature=").unwrap() + "Signature=".len();
    let end = url[start..].find('&').map_or(url.len(), |i| start + i);
    let encoded = &url[start..end];
    let sig = encoded.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=");
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200, "the signed URL passes");
    for (what, s) in variants(&sig) {
        let tampered = format!("{}{}{}", &url[..start], percent_encode(&s, false), &url[end..]);
        let r = client().get(&tampered).send().await.unwrap();
        assert_eq!(r.status(), 403, "signed URL, {what}: {tampered}");
        assert_eq!(r.text().await.unwrap(), INVALID_SIGNATURE, "{what}");
    }
}
