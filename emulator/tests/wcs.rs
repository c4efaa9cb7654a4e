//! The emulated WCS over real HTTP: form, append and slice uploads, tokens, errors, stat and
//! downloads, callbacks, restarts. Each test starts its own emulator process.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{AK, Emulator, SK, temp_data_dir};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use yunup::encoding::{decode_base64_lenient, urlsafe_b64};
use yunup::hash::{Crc32, Hasher, Md5, WcsEtag};
use yunup::sign::Credentials;
use yunup::sign::wcs::{PutPolicy, encoded_entry, management_token, upload_token};

const MIB: usize = 1 << 20;
const BLOCK: usize = 4 * MIB;
const HELLO_ETAG: &str = "FiqubDXJT8-0FdvpX0CLnOke6Ebt";

fn creds() -> Credentials {
    Credentials::new(AK, SK)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn policy(scope: &str) -> PutPolicy {
    PutPolicy::new(scope, now_ms() + 3_600_000)
}

fn token(policy: &PutPolicy) -> String {
    upload_token(&creds(), policy).unwrap()
}

fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn b64_text(text: &str) -> String {
    String::from_utf8(decode_base64_lenient(text).unwrap()).unwrap()
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

/// A multipart/form-data body: text fields in order, the file part at `file_at`.
fn form(fields: &[(&str, &str)], file_at: usize, filename: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----yunupTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    let file_part = |body: &mut Vec<u8>| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    for (i, (name, value)) in fields.iter().enumerate() {
        if i == file_at {
            file_part(&mut body);
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if file_at >= fields.len() {
        file_part(&mut body);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn form_upload(emu: &Emulator, path: &str, fields: &[(&str, &str)], content: &[u8]) -> reqwest::Response {
    let (content_type, body) = form(fields, fields.len(), "orig.txt", content);
    client().post(format!("{}{path}", emu.wcs)).header("Content-Type", content_type).body(body).send().await.unwrap()
}

/// Status and JSON body of an error reply, checking the shape every error has.
async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert!(response.headers().contains_key("x-reqid"), "every reply has X-Reqid");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], status, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["error"], body["message"]);
    (status, body)
}

async fn download(emu: &Emulator, bucket: &str, key: &str) -> reqwest::Response {
    client().get(format!("{}/{bucket}/{key}", emu.wcs)).send().await.unwrap()
}

async fn stat(emu: &Emulator, bucket: &str, key: &str) -> reqwest::Response {
    let path = format!("/stat/{}", encoded_entry(bucket, Some(key)));
    let auth = management_token(&creds(), &path, b"");
    client().get(format!("{}{path}", emu.wcs)).header("Authorization", auth).send().await.unwrap()
}

#[tokio::test]
async fn form_upload_any_field_order_return_body_stat_and_download() {
    let emu = Emulator::fresh("wcs-form", &[]);
    let mut p = policy("public");
    p.return_body = Some("key=$(key)&fsize=$(fsize)&v=$(x:v)&b=$(bucket)&f=$(fname)&m=$(mimeType)".into());
    let tok = token(&p);
    // JS browser order: file first, then token, key, x: variable.
    let (ct, body) = form(&[("token", &tok), ("key", "dir/a.txt"), ("x:v", "val")], 0, "orig.txt", b"hello world");
    let r =
        client().post(format!("{}/file/upload", emu.wcs)).header("Content-Type", ct).body(body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-reqid"));
    let reply = b64_text(&r.text().await.unwrap());
    assert_eq!(reply, format!("key=dir/a.txt&fsize=11&v=val&b=public&f=orig.txt&m=text/plain&hash={HELLO_ETAG}"));

    let s = stat(&emu, "public", "dir/a.txt").await;
    assert_eq!(s.status(), 200);
    let s: Value = s.json().await.unwrap();
    assert_eq!(s["hash"], HELLO_ETAG);
    assert_eq!(s["fsize"], 11);
    assert_eq!(s["name"], "dir/a.txt");
    assert_eq!(s["mimeType"], "text/plain");
    assert!(s["putTime"].as_u64().unwrap() > now_ms() - 60_000);

    let d = download(&emu, "public", "dir/a.txt").await;
    assert_eq!(d.status(), 200);
    assert_eq!(d.headers()["etag"], format!("\"{HELLO_ETAG}\""));
    assert_eq!(d.bytes().await.unwrap().as_ref(), b"hello world");
    let part = client().get(format!("{}/public/dir/a.txt", emu.wcs)).header("Range", "bytes=6-").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 6-10/11");
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"world");
    let bad = client().get(format!("{}/public/dir/a.txt", emu.wcs)).header("Range", "bytes=20-").send().await.unwrap();
    assert_eq!(error_of(bad).await.0, 416);
    assert_eq!(error_of(download(&emu, "public", "missing").await).await.0, 404);

    // No returnBody: just the hash. The scope key wins over the form key and the filename.
    let tok = token(&policy("public:scoped.bin"));
    let r = form_upload(&emu, "/file/upload", &[("token", &tok), ("key", "ignored")], b"hello world").await;
    assert_eq!(b64_text(&r.text().await.unwrap()), format!("hash={HELLO_ETAG}"));
    assert_eq!(download(&emu, "public", "scoped.bin").await.status(), 200);
    assert_eq!(download(&emu, "public", "ignored").await.status(), 404);

    // No key anywhere: saveKey, then the filename.
    let mut p = policy("public");
    p.save_key = Some("saved/$(x:n)-$(fname)".into());
    let r = form_upload(&emu, "/file/upload", &[("token", &token(&p)), ("x:n", "7")], b"x").await;
    assert_eq!(r.status(), 200);
    assert_eq!(download(&emu, "public", "saved/7-orig.txt").await.bytes().await.unwrap().as_ref(), b"x");
    let r = form_upload(&emu, "/file/upload", &[("token", &token(&policy("public")))], b"y").await;
    assert_eq!(r.status(), 200);
    assert_eq!(download(&emu, "public", "orig.txt").await.bytes().await.unwrap().as_ref(), b"y");
}

#[tokio::test]
async fn overwrite_406_size_limit_and_return_url() {
    let emu = Emulator::fresh("wcs-overwrite", &[]);
    let tok = token(&policy("public:k.txt"));
    assert_eq!(form_upload(&emu, "/file/upload", &[("token", &tok)], b"one").await.status(), 200);
    let (status, body) = error_of(form_upload(&emu, "/file/upload", &[("token", &tok)], b"two").await).await;
    assert_eq!(status, 406, "{body}");
    assert_eq!(download(&emu, "public", "k.txt").await.bytes().await.unwrap().as_ref(), b"one");

    let mut p = policy("public:k.txt");
    p.overwrite = Some(1);
    assert_eq!(form_upload(&emu, "/file/upload", &[("token", &token(&p))], b"two").await.status(), 200);
    assert_eq!(download(&emu, "public", "k.txt").await.bytes().await.unwrap().as_ref(), b"two");

    let mut p = policy("public:big");
    p.fsize_limit = Some(4);
    let (status, _) = error_of(form_upload(&emu, "/file/upload", &[("token", &token(&p))], b"12345").await).await;
    assert_eq!(status, 401);
    assert_eq!(form_upload(&emu, "/file/upload", &[("token", &token(&p))], b"1234").await.status(), 200);

    let mut p = policy("public:r.txt");
    p.return_url = Some("http://app.example/done?from=wcs".into());
    p.return_body = Some("k=$(key)".into());
    let r = form_upload(&emu, "/file/upload", &[("token", &token(&p))], b"hello world").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let ret = location.strip_prefix("http://app.example/done?from=wcs&upload_ret=").unwrap();
    assert_eq!(b64_text(ret), format!("k=r.txt&hash={HELLO_ETAG}"));
    // Failures redirect too, with code and message.
    let r = form_upload(&emu, "/file/upload", &[("token", &token(&p))], b"again").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"].to_str().unwrap().starts_with("http://app.example/done?from=wcs&code=406&message=")
    );
}

#[tokio::test]
async fn bad_tokens_and_buckets() {
    let emu = Emulator::fresh("wcs-tokens", &[]);
    let expired = token(&PutPolicy::new("public:e", now_ms() - 1000));
    let (status, body) = error_of(form_upload(&emu, "/file/upload", &[("token", &expired)], b"x").await).await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");

    // Same signature, another policy: tampered.
    let good = token(&policy("public:t"));
    let mut parts: Vec<String> = good.split(':').map(str::to_owned).collect();
    parts[2] = urlsafe_b64(policy("secret:t").to_json().unwrap());
    let tampered = parts.join(":");
    assert_eq!(error_of(form_upload(&emu, "/file/upload", &[("token", &tampered)], b"x").await).await.0, 401);
    let other_key = upload_token(&Credentials::new(AK, "wrong-sk"), &policy("public:t")).unwrap();
    assert_eq!(error_of(form_upload(&emu, "/file/upload", &[("token", &other_key)], b"x").await).await.0, 401);
    assert_eq!(error_of(form_upload(&emu, "/file/upload", &[("key", "t")], b"x").await).await.0, 401);

    let nobucket = token(&policy("nope:t"));
    assert_eq!(error_of(form_upload(&emu, "/file/upload", &[("token", &nobucket)], b"x").await).await.0, 631);

    // Slice calls check the token too.
    let c = client();
    let r =
        c.post(format!("{}/mkblk/4/0", emu.wcs)).header("Authorization", &expired).body("abcd").send().await.unwrap();
    assert_eq!(error_of(r).await.0, 401);
    let r =
        c.post(format!("{}/mkblk/4/0", emu.wcs)).header("Authorization", &nobucket).body("abcd").send().await.unwrap();
    assert_eq!(error_of(r).await.0, 631);
    let r = c.post(format!("{}/mkblk/4/0", emu.wcs)).body("abcd").send().await.unwrap();
    assert_eq!(error_of(r).await.0, 401);

    // Management token for stat and private downloads.
    let tok = token(&policy("secret:s.txt"));
    assert_eq!(form_upload(&emu, "/file/upload", &[("token", &tok)], b"hello world").await.status(), 200);
    assert_eq!(error_of(download(&emu, "secret", "s.txt").await).await.0, 401);
    let auth = management_token(&creds(), "/secret/s.txt", b"");
    let r = c.get(format!("{}/secret/s.txt", emu.wcs)).header("Authorization", auth).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello world");
    let path = format!("/stat/{}", encoded_entry("secret", Some("s.txt")));
    let r = c.get(format!("{}{path}", emu.wcs)).header("Authorization", format!("{AK}:bad")).send().await.unwrap();
    assert_eq!(error_of(r).await.0, 401);
    assert_eq!(stat(&emu, "secret", "s.txt").await.status(), 200);
    assert_eq!(error_of(stat(&emu, "secret", "none").await).await.0, 404);
    assert_eq!(error_of(stat(&emu, "nope", "none").await).await.0, 631);
}

#[tokio::test]
async fn cors_headers_on_error_replies() {
    let emu = Emulator::fresh("wcs-cors", &[]);
    let r = client()
        .post(format!("{}/mkfile/3", emu.wcs))
        .header("Origin", "http://page.example")
        .header("Authorization", "UpToken not-a-token")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "http://page.example");
    assert!(r.headers()["access-control-expose-headers"].to_str().unwrap().contains("X-Reqid"));
    assert_eq!(error_of(r).await.0, 401);
    let r = client().get(format!("{}/nothing", emu.wcs)).send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(error_of(r).await.0, 404);
}

/// One mkblk/bput reply, checked against the chunk it answers.
async fn send_chunk(client: &Client, url: String, auth: &str, chunk: &[u8], block_offset_after: usize) -> String {
    let r = client.post(url).header("Authorization", auth).body(chunk.to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-reqid"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["crc32"].as_u64().unwrap(), u64::from(Crc32::digest(chunk)));
    assert_eq!(v["checksum"], Md5::digest(chunk).to_hex());
    assert_eq!(v["offset"].as_u64().unwrap(), block_offset_after as u64);
    let ctx = v["ctx"].as_str().unwrap().to_owned();
    assert!(!ctx.contains(',') && !ctx.contains('/'), "{ctx}");
    ctx
}

/// Upload one block in `chunk`-sized pieces; the last ctx.
async fn upload_block(base: String, auth: String, index: usize, block: Vec<u8>, chunk: usize) -> String {
    let c = Client::new();
    let first = &block[..chunk.min(block.len())];
    let mut ctx = send_chunk(&c, format!("{base}/mkblk/{}/{index}", block.len()), &auth, first, first.len()).await;
    let mut offset = first.len();
    while offset < block.len() {
        let piece = &block[offset..(offset + chunk).min(block.len())];
        ctx = send_chunk(&c, format!("{base}/bput/{ctx}/{offset}"), &auth, piece, offset + piece.len()).await;
        offset += piece.len();
    }
    ctx
}

#[tokio::test]
async fn slice_upload_parallel_blocks_and_validation() {
    let emu = Emulator::fresh("wcs-slice", &[]);
    let content = data(9 * MIB + 123, 7);
    let mut p = policy("public");
    p.return_body = Some("tag=$(x:tag)&size=$(fsize)&b=$(bucket)".into());
    let tok = token(&p);
    // Blocks in parallel, 1 MiB chunks; one block uses the `UpToken ` prefix, as Java/JS do.
    let tasks: Vec<_> = content
        .chunks(BLOCK)
        .enumerate()
        .map(|(i, block)| {
            let auth = if i == 1 { format!("UpToken {tok}") } else { tok.clone() };
            tokio::spawn(upload_block(emu.wcs.clone(), auth, i, block.to_vec(), MIB))
        })
        .collect();
    let mut ctxs = Vec::new();
    for t in tasks {
        ctxs.push(t.await.unwrap());
    }
    assert_eq!(ctxs.len(), 3);

    let c = client();
    let mkfile = |path: String, body: String| {
        c.post(format!("{}{path}", emu.wcs)).header("Authorization", &tok).body(body).send()
    };
    let key_path = format!("/key/{}/x:tag/{}", urlsafe_b64("big/file.bin"), urlsafe_b64("t1"));
    // Validation first: sizes must add up, every listed block must be whole.
    let r = mkfile(format!("/mkfile/{}{key_path}", content.len() + 1), ctxs.join(",")).await.unwrap();
    assert_eq!(error_of(r).await.0, 400);
    let r = mkfile(format!("/mkfile/{}{key_path}", 2 * BLOCK), ctxs[..2].join(",")).await.unwrap();
    assert_eq!(r.status(), 200, "two whole blocks make a file");
    let two: Value = r.json().await.unwrap();
    assert_eq!(two["hash"], WcsEtag::digest(&content[..2 * BLOCK]));
    // Those blocks are used up now.
    let r = mkfile(format!("/mkfile/{}{key_path}", content.len()), ctxs.join(",")).await.unwrap();
    assert_eq!(error_of(r).await.0, 412);

    // Again, for the whole file.
    let tasks: Vec<_> = content
        .chunks(BLOCK)
        .enumerate()
        .map(|(i, block)| tokio::spawn(upload_block(emu.wcs.clone(), tok.clone(), i, block.to_vec(), MIB)))
        .collect();
    let mut ctxs = Vec::new();
    for t in tasks {
        ctxs.push(t.await.unwrap());
    }
    let r = mkfile(format!("/mkfile/{}{key_path}", content.len()), ctxs.join(",")).await.unwrap();
    assert_eq!(error_of(r).await.0, 406, "the key exists and overwrite is not set");
    let r = mkfile(
        format!("/mkfile/{}/key/{}/x:tag/{}", content.len(), urlsafe_b64("big/other.bin"), urlsafe_b64("t1")),
        ctxs.join(","),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    let etag = WcsEtag::digest(&content);
    assert_eq!(
        v,
        serde_json::json!({"tag": "t1", "size": content.len().to_string(), "b": "public", "key": "big/other.bin", "hash": etag})
    );
    let d = download(&emu, "public", "big/other.bin").await;
    assert_eq!(d.bytes().await.unwrap().as_ref(), content.as_slice());
    let s: Value = stat(&emu, "public", "big/other.bin").await.json().await.unwrap();
    assert_eq!((s["hash"].as_str().unwrap(), s["fsize"].as_u64().unwrap()), (etag.as_str(), content.len() as u64));
}

#[tokio::test]
async fn ctx_and_offset_mismatches_are_701() {
    let emu = Emulator::fresh("wcs-701", &[]);
    let tok = token(&policy("public:small.bin"));
    let c = Client::new();
    let base = &emu.wcs;
    let ctx = send_chunk(&c, format!("{base}/mkblk/12/0"), &tok, b"abcd", 4).await;
    let post = |url: String, body: &'static [u8]| c.post(url).header("Authorization", &tok).body(body).send();
    assert_eq!(error_of(post(format!("{base}/bput/{ctx}/5"), b"efgh").await.unwrap()).await.0, 701);
    assert_eq!(error_of(post(format!("{base}/bput/{ctx}/3"), b"efgh").await.unwrap()).await.0, 701);
    assert_eq!(error_of(post(format!("{base}/bput/ffff-0/4"), b"efgh").await.unwrap()).await.0, 701);
    assert_eq!(error_of(post(format!("{base}/bput/garbage/4"), b"efgh").await.unwrap()).await.0, 701);
    // More than the block holds.
    assert_eq!(error_of(post(format!("{base}/bput/{ctx}/4"), b"efghijklmnop").await.unwrap()).await.0, 400);
    let ctx2 = send_chunk(&c, format!("{base}/bput/{ctx}/4"), &tok, b"efgh", 8).await;
    // The block is not complete: mkfile refuses it; an older ctx is not the block's last.
    assert_eq!(error_of(post(format!("{base}/mkfile/12"), b"").await.unwrap()).await.0, 400);
    let r = c.post(format!("{base}/mkfile/12")).header("Authorization", &tok).body(ctx2.clone()).send().await.unwrap();
    assert_eq!(error_of(r).await.0, 412);
    let r = c.post(format!("{base}/mkfile/12")).header("Authorization", &tok).body(ctx.clone()).send().await.unwrap();
    assert_eq!(error_of(r).await.0, 701);
    // A retried chunk continues from its ctx again (the reply was lost): the later one is dropped.
    let again = send_chunk(&c, format!("{base}/bput/{ctx}/4"), &tok, b"EFGH", 8).await;
    let last = send_chunk(&c, format!("{base}/bput/{again}/8"), &tok, b"ijkl", 12).await;
    let r = c.post(format!("{base}/mkfile/12")).header("Authorization", &tok).body(last).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(download(&emu, "public", "small.bin").await.bytes().await.unwrap().as_ref(), b"abcdEFGHijkl");
    // Blocks of another bucket's token are not yours.
    let other = token(&policy("secret:x"));
    let ctx = send_chunk(&c, format!("{base}/mkblk/4/0"), &tok, b"abcd", 4).await;
    let r = c.post(format!("{base}/mkfile/4")).header("Authorization", &other).body(ctx).send().await.unwrap();
    assert_eq!(error_of(r).await.0, 412);
}

/// Chunks refused before their body is read (a stale ctx, a bad token) get the refusal, not a
/// reset connection: the emulator reads the body first, so the client learns what to do.
#[tokio::test]
async fn refused_chunks_get_the_refusal_not_a_reset() {
    let emu = Emulator::fresh("wcs-refused-chunks", &[]);
    let tok = token(&policy("public:refused.bin"));
    let c = Client::new();
    let chunk = data(BLOCK, 9);
    for (url, auth, status) in [
        (format!("{}/bput/ffff-0/4", emu.wcs), tok.clone(), 701),
        (format!("{}/mkblk/{BLOCK}/0", emu.wcs), "UpToken a:b:c".to_owned(), 401),
        (format!("{}/mkblk/x/0", emu.wcs), tok.clone(), 400),
    ] {
        let r = c.post(&url).header("Authorization", auth).body(chunk.clone()).send().await.unwrap();
        assert_eq!(error_of(r).await.0, status, "{url}");
    }
}

#[tokio::test]
async fn a_restart_between_mkblk_and_mkfile_loses_nothing() {
    let dir = temp_data_dir("wcs-restart");
    let content = data(BLOCK + 1000, 3);
    let tok = token(&policy("public:restarted.bin"));
    let c = Client::new();
    let emu = Emulator::start(&dir, &[]);
    let ctx0 = upload_block(emu.wcs.clone(), tok.clone(), 0, content[..BLOCK].to_vec(), 3 * MIB).await;
    let first = send_chunk(&c, format!("{}/mkblk/1000/1", emu.wcs), &tok, &content[BLOCK..BLOCK + 600], 600).await;
    emu.kill();

    let emu = Emulator::start(&dir, &[]);
    let ctx1 = send_chunk(&c, format!("{}/bput/{first}/600", emu.wcs), &tok, &content[BLOCK + 600..], 1000).await;
    let r = c
        .post(format!("{}/mkfile/{}", emu.wcs, content.len()))
        .header("Authorization", &tok)
        .body(format!("{ctx0},{ctx1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["hash"], WcsEtag::digest(&content));
    assert_eq!(v["key"], "restarted.bin");
    assert_eq!(download(&emu, "public", "restarted.bin").await.bytes().await.unwrap().as_ref(), content.as_slice());
}

#[tokio::test]
async fn append_upload_grows_an_appendable_object() {
    let emu = Emulator::fresh("wcs-append", &[]);
    let tok = token(&policy("public:log.txt"));
    let r = form_upload(&emu, "/append/0", &[("token", &tok)], b"hello").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-wcs-next-append-position"], "5");
    let r = form_upload(&emu, "/append/5", &[("token", &tok)], b" world").await;
    assert_eq!(r.headers()["x-wcs-next-append-position"], "11");
    assert_eq!(b64_text(&r.text().await.unwrap()), format!("hash={HELLO_ETAG}"));
    assert_eq!(error_of(form_upload(&emu, "/append/5", &[("token", &tok)], b"!").await).await.0, 409);
    let s = stat(&emu, "public", "log.txt").await;
    assert_eq!(s.headers()["x-wcs-object-type"], "Appendable");
    assert_eq!(download(&emu, "public", "log.txt").await.bytes().await.unwrap().as_ref(), b"hello world");
    // A normal object cannot be appended to.
    let tok = token(&policy("public:plain.txt"));
    assert_eq!(form_upload(&emu, "/file/upload", &[("token", &tok)], b"x").await.status(), 200);
    assert_eq!(error_of(form_upload(&emu, "/append/1", &[("token", &tok)], b"y").await).await.0, 409);
}

/// A one-route callback server that records what it got and answers `reply`.
async fn callback_server(status: u16, reply: &'static str) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    use axum::http::HeaderMap;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                log.lock().unwrap().push((auth, body));
                let status = axum::http::StatusCode::from_u16(status).unwrap();
                (status, [("content-type", "application/json")], reply)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn callbacks_are_relayed_and_failures_are_579() {
    let emu = Emulator::fresh("wcs-callback", &[]);
    let (url, seen) = callback_server(200, r#"{"ok":true}"#).await;
    let mut p = policy("public:cb.txt");
    p.callback_url = Some(url.clone());
    p.callback_body = Some("key=$(key)&hash=$(hash)&v=$(x:v)".into());
    let r = form_upload(&emu, "/file/upload", &[("token", &token(&p)), ("x:v", "1")], b"hello world").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"ok":true}"#);
    let (auth, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(body, format!("key=cb.txt&hash={HELLO_ETAG}&v=1"));
    assert_eq!(auth, yunup::sign::wcs::sign(&creds(), format!("{url}\n{body}").as_bytes()));

    // Slice uploads relay the callback too.
    let mut p = policy("public:cb-slice.txt");
    p.callback_url = Some(url.clone());
    p.callback_body = Some("k=$(key)".into());
    let tok = token(&p);
    let c = Client::new();
    let ctx = send_chunk(&c, format!("{}/mkblk/11/0", emu.wcs), &tok, b"hello world", 11).await;
    let r = c.post(format!("{}/mkfile/11", emu.wcs)).header("Authorization", &tok).body(ctx).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"ok":true}"#);
    assert_eq!(seen.lock().unwrap()[1].1, "k=cb-slice.txt");

    // A callback server that fails, or is not there: 579, and the file is stored anyway.
    let (bad_url, _) = callback_server(500, "{}").await;
    for (key, cb) in [("cb-500.txt", bad_url), ("cb-down.txt", "http://127.0.0.1:9/cb".to_owned())] {
        let mut p = policy(&format!("public:{key}"));
        p.callback_url = Some(cb);
        let r = form_upload(&emu, "/file/upload", &[("token", &token(&p))], b"x").await;
        assert_eq!(error_of(r).await.0, 579);
        assert_eq!(download(&emu, "public", key).await.status(), 200);
    }
}

/// wcs.md §7 key rules: at most 1000 bytes, no leading or trailing `/`, no `/../` or `/./`.
/// Uploads (form, mkfile) and copy destinations with such keys are refused with a 400 that names
/// the rule, and nothing is stored; `a/b` is fine.
#[tokio::test]
async fn object_keys_follow_the_slash_rules() {
    let emu = Emulator::fresh("wcs-key-rules", &[]);
    let tok = token(&policy("public"));
    let bad =
        [("a/", "end"), ("/a", "start"), ("/", "start"), ("a/../b", "/../"), ("a/./b", "/./"), ("x/y/../../z", "/../")];
    for (key, rule) in bad {
        let r = form_upload(&emu, "/file/upload", &[("token", tok.as_str()), ("key", key)], b"nope").await;
        assert_eq!(r.status(), 400, "form upload of {key:?}");
        let (status, body) = error_of(r).await;
        assert_eq!(status, 400, "form upload of {key:?}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(rule), "{key:?}: the message names the rule: {message}");
        assert_eq!(error_of(stat(&emu, "public", key).await).await.0, 404, "{key:?} was not stored");
    }
    let r = form_upload(&emu, "/file/upload", &[("token", tok.as_str()), ("key", "a/b")], b"fine").await;
    assert_eq!(r.status(), 200);
    assert_eq!(download(&emu, "public", "a/b").await.bytes().await.unwrap().as_ref(), b"fine");
    // A key of 1000 bytes passes, 1001 does not.
    let long = "k".repeat(1000);
    let r = form_upload(&emu, "/file/upload", &[("token", tok.as_str()), ("key", long.as_str())], b"l").await;
    assert_eq!(r.status(), 200);
    let longer = "k".repeat(1001);
    let r = form_upload(&emu, "/file/upload", &[("token", tok.as_str()), ("key", longer.as_str())], b"l").await;
    assert_eq!(error_of(r).await.0, 400);

    // mkfile: the key from the scope, the Key header or the /key/ path segment.
    let c = client();
    for key in ["dir/", "/dir/x"] {
        let ctx = send_chunk(&c, format!("{}/mkblk/4/0", emu.wcs), &tok, b"abcd", 4).await;
        let r = c
            .post(format!("{}/mkfile/4/key/{}", emu.wcs, urlsafe_b64(key)))
            .header("Authorization", &tok)
            .body(ctx.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(r).await.0, 400, "mkfile {key:?}");
        assert_eq!(error_of(stat(&emu, "public", key).await).await.0, 404, "{key:?} was not stored");
        let scoped = token(&policy(&format!("public:{key}")));
        let ctx = send_chunk(&c, format!("{}/mkblk/4/0", emu.wcs), &scoped, b"abcd", 4).await;
        let r =
            c.post(format!("{}/mkfile/4", emu.wcs)).header("Authorization", &scoped).body(ctx).send().await.unwrap();
        assert_eq!(error_of(r).await.0, 400, "mkfile with scope key {key:?}");
    }

    // copy and move: the destination key.
    for op in ["copy", "move"] {
        let path = format!("/{op}/{}/{}", encoded_entry("public", Some("a/b")), encoded_entry("public", Some("c/")));
        let auth = management_token(&creds(), &path, b"");
        let r = c.post(format!("{}{path}", emu.wcs)).header("Authorization", auth).send().await.unwrap();
        assert_eq!(error_of(r).await.0, 400, "{op} to c/");
    }
    assert_eq!(stat(&emu, "public", "a/b").await.status(), 200, "the source is still there");
}

/// mkfile's body lists the blocks' last ctxs in file order (wcs.md §5.5): the object is the
/// blocks in the order the body gives, not the order they were created or numbered in.
#[tokio::test]
async fn mkfile_assembles_blocks_in_the_order_the_body_lists() {
    let emu = Emulator::fresh("wcs-mkfile-order", &[]);
    let tok = token(&PutPolicy { overwrite: Some(1), ..policy("public:ordered.bin") });
    let c = client();
    for (order, expected) in [([1, 0], &b"efghabcd"[..]), ([0, 1], &b"abcdefgh"[..])] {
        let ctx0 = send_chunk(&c, format!("{}/mkblk/4/0", emu.wcs), &tok, b"abcd", 4).await;
        let ctx1 = send_chunk(&c, format!("{}/mkblk/4/1", emu.wcs), &tok, b"efgh", 4).await;
        let ctxs = [ctx0, ctx1];
        let r = c
            .post(format!("{}/mkfile/8", emu.wcs))
            .header("Authorization", &tok)
            .body(format!("{},{}", ctxs[order[0]], ctxs[order[1]]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["hash"], WcsEtag::digest(expected));
        assert_eq!(download(&emu, "public", "ordered.bin").await.bytes().await.unwrap().as_ref(), expected);
    }
}
