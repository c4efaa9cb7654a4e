//! The JS upload API end to end against a real emulator, in Node and in headless Chromium (the
//! same tests run in both): every service, the sizes around the part boundary, 100 MiB, odd keys,
//! faults on a fifth of part requests, pause and resume, token expiry, cancel.
//!
//! Run through `scripts/with-emulator.sh` (as `make test` does): the emulator's URLs are read at
//! compile time from the environment it exports.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use yunup::ErrorKind;
use yunup::engine::Source;
use yunup::engine::Transport;
use yunup::hash::{Hasher, Md5, UfileEtag, WcsEtag};
use yunup::js::{JsUploader, UploadTask};
use yunup::runtime::web::{FetchTransport, NodeFileSource};
use yunup::service::{HttpRequest, Method};

const MIB: usize = 1024 * 1024;

/// wasm-bindgen-test polls async tests concurrently; these share one emulator (its fault switch,
/// its request log), so each holds this lock for its whole run.
fn serial() -> &'static futures_util::lock::Mutex<()> {
    static LOCK: std::sync::OnceLock<futures_util::lock::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| futures_util::lock::Mutex::new(()))
}
const SERVICES: [&str; 3] = ["wcs", "ufile", "wantu"];

fn env(value: Option<&'static str>) -> &'static str {
    value.expect("run these tests through scripts/with-emulator.sh (make test does): no emulator URL was set")
}

fn demo() -> &'static str {
    env(option_env!("YUNUP_TEST_DEMO"))
}

fn endpoint(service: &str) -> String {
    match service {
        "wcs" => env(option_env!("YUNUP_TEST_WCS")).to_owned(),
        "ufile" => format!("{}/public", env(option_env!("YUNUP_TEST_UFILE"))),
        _ => env(option_env!("YUNUP_TEST_WANTU")).to_owned(),
    }
}

fn download_url(service: &str, key: &str) -> String {
    let base = match service {
        "wcs" => env(option_env!("YUNUP_TEST_WCS")),
        "ufile" => env(option_env!("YUNUP_TEST_UFILE")),
        _ => env(option_env!("YUNUP_TEST_WANTU")),
    };
    format!("{base}/public/{}", yunup::encoding::percent_encode(key, true))
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8 ^ seed).collect()
}

fn expected_etag(service: &str, bytes: &[u8]) -> String {
    match service {
        "wcs" => WcsEtag::digest(bytes),
        "ufile" => UfileEtag::digest(bytes),
        _ => Md5::digest(bytes).to_hex_upper(),
    }
}

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

fn get(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).unwrap()
}

fn uploader(service: &str, extra: &str) -> JsUploader {
    let config = format!(
        r#"{{"service":"{service}","endpoint":"{}","bucket":"public","tokenUrl":"{}","retryBaseDelayMs":20{extra}}}"#,
        endpoint(service),
        demo()
    );
    JsUploader::new(json(&config)).unwrap()
}

/// A `File`, as a page gets from an `<input type=file>` (Node ≥ 20 has the same global).
fn file(bytes: &[u8], name: &str) -> JsValue {
    let parts = Array::new();
    for chunk in bytes.chunks(8 * MIB) {
        parts.push(&Uint8Array::from(chunk));
    }
    web_sys::File::new_with_u8_array_sequence(&parts, name).unwrap().into()
}

fn options(key: &str, on_progress: Option<&Closure<dyn FnMut(JsValue)>>) -> JsValue {
    let o = js_sys::Object::new();
    Reflect::set(&o, &"key".into(), &key.into()).unwrap();
    if let Some(f) = on_progress {
        Reflect::set(&o, &"onProgress".into(), f.as_ref()).unwrap();
    }
    o.into()
}

async fn finish(task: &UploadTask) -> Result<JsValue, JsValue> {
    JsFuture::from(task.done()).await
}

async fn http(method: Method, url: &str, body: &str) -> yunup::service::HttpResponse {
    FetchTransport::default().send(HttpRequest::new(method, url).body(body.to_owned())).await.unwrap()
}

async fn read_back(service: &str, key: &str) -> Vec<u8> {
    let r = http(Method::Get, &download_url(service, key), "").await;
    assert_eq!(r.status, 200, "GET {service} {key}");
    r.body.to_vec()
}

async fn set_faults(config: &str) {
    let r = http(Method::Put, &format!("{}/admin/faults", demo()), config).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn last_request() -> u64 {
    let r = http(Method::Get, &format!("{}/admin/requests", demo()), "").await;
    get(&json(&r.text()), "last").as_f64().unwrap() as u64
}

/// Successful part requests of `service` since `since`.
async fn part_requests(service: &str, since: u64) -> usize {
    let r = http(Method::Get, &format!("{}/admin/requests?since={since}", demo()), "").await;
    let requests: Array = get(&json(&r.text()), "requests").unchecked_into();
    requests
        .iter()
        .filter(|r| {
            get(r, "service").as_string().as_deref() == Some(service) && get(r, "status").as_f64() == Some(200.0)
        })
        .filter(|r| {
            let (method, target) = (get(r, "method").as_string().unwrap(), get(r, "target").as_string().unwrap());
            // (In a browser, CORS preflights (OPTIONS) precede them; they carry no bytes.)
            match service {
                "wcs" => method == "POST" && target.starts_with("/mkblk/"),
                "ufile" => method == "PUT" && target.contains("partNumber="),
                _ => {
                    method == "POST"
                        && (target.starts_with("/api/proxy/blockInit") || target.starts_with("/api/proxy/blockUpload"))
                }
            }
        })
        .count()
}

#[wasm_bindgen_test]
async fn every_service_every_size_with_odd_keys_from_files_and_bytes() {
    let _serial = serial().lock().await;
    for service in SERVICES {
        for (i, size) in [0, 1, 4 * MIB, 4 * MIB + 1].into_iter().enumerate() {
            let key = format!("js/{service}/a b/c:d%e-{i} 📦.txt");
            let bytes = data(size, i as u8);
            let source = if i % 2 == 0 { file(&bytes, "x.bin") } else { Uint8Array::from(&bytes[..]).into() };
            let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let sink = seen.clone();
            let progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
                sink.borrow_mut().push(get(&p, "confirmed").as_f64().unwrap());
            });
            let task = uploader(service, "").upload(source, options(&key, Some(&progress))).unwrap();
            let result = finish(&task).await.unwrap_or_else(|e| panic!("{service} {size}: {e:?}"));
            assert_eq!(get(&result, "size").as_f64(), Some(size as f64));
            let etag = get(&result, "etag").as_string().unwrap();
            assert_eq!(
                etag.to_ascii_uppercase(),
                expected_etag(service, &bytes).to_ascii_uppercase(),
                "{service} {size}"
            );
            let seen = seen.borrow().clone();
            assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress never goes backwards: {seen:?}");
            assert_eq!(seen.last().copied(), Some(size as f64));
            assert!(read_back(service, &key).await == bytes, "{service} {size}: bytes differ");
        }
    }
}

#[wasm_bindgen_test]
async fn a_hundred_mib_file_in_parts() {
    let _serial = serial().lock().await;
    let bytes = data(100 * MIB, 3);
    let source = file(&bytes, "big.bin");
    for service in SERVICES {
        let key = format!("js/big/{service}.bin");
        let task = uploader(service, r#","concurrency":4"#).upload(source.clone(), options(&key, None)).unwrap();
        let result = finish(&task).await.unwrap_or_else(|e| panic!("{service}: {e:?}"));
        assert_eq!(
            get(&result, "etag").as_string().unwrap().to_ascii_uppercase(),
            expected_etag(service, &bytes).to_ascii_uppercase()
        );
        assert!(read_back(service, &key).await == bytes, "{service}");
    }
}

#[wasm_bindgen(inline_js = "export function nodeTempFile(bytes) {
  const get = globalThis.process?.getBuiltinModule;
  if (typeof get !== 'function') return undefined;
  const fs = get('fs'), os = get('os'), path = get('path');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'yunup-upload-')), 'data.bin');
  fs.writeFileSync(file, bytes);
  return file;
}
export function nodeRemoveTempFile(file) {
  const get = process.getBuiltinModule;
  get('fs').rmSync(get('path').dirname(file), { recursive: true, force: true });
}
export function nodeOpen(file) { return process.getBuiltinModule('fs/promises').open(file, 'r'); }
export function nodeRewriteFirstByte(file) {
  const fs = process.getBuiltinModule('fs');
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Uint8Array.of(0xff), 0, 1, 0);
  fs.closeSync(fd);
  // Coarse clocks: make sure the modification time moves.
  fs.utimesSync(file, new Date(), new Date(Date.now() + 10_000));
}
export function nodeClose(handle) { return handle.close(); }")]
extern "C" {
    #[wasm_bindgen(js_name = nodeTempFile)]
    fn node_temp_file(bytes: &[u8]) -> Option<String>;
    #[wasm_bindgen(js_name = nodeRemoveTempFile)]
    fn node_remove_temp_file(file: &str);
    #[wasm_bindgen(js_name = nodeOpen)]
    fn node_open(file: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = nodeClose)]
    fn node_close(handle: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = nodeRewriteFirstByte)]
    fn node_rewrite_first_byte(file: &str);
}

async fn close(handle: &JsValue) {
    JsFuture::from(node_close(handle)).await.unwrap();
}

/// In Node, a path or a `FileHandle` reads the file's ranges in any order, short at its end;
/// a handle given stays open; a missing path or a directory is a clear error. In a browser a
/// path is refused, saying where it works.
#[wasm_bindgen_test]
async fn node_file_sources_read_any_range() {
    let data: Vec<u8> = (0..300_007usize).map(|i| (i.wrapping_mul(131) >> 5) as u8).collect();
    let Some(path) = node_temp_file(&data) else {
        // No files here (a browser): a path is refused, saying where it would work.
        let e = NodeFileSource::open(&JsValue::from("/tmp/data.bin"), None).await.unwrap_err();
        assert!(e.kind() == ErrorKind::InvalidInput && e.to_string().contains("Node"), "{e}");
        return;
    };
    let handle = JsFuture::from(node_open(&path)).await.unwrap();
    for file in [JsValue::from(&path), handle.clone()] {
        assert!(file.is_string() || NodeFileSource::is_handle(&file));
        let mut source = NodeFileSource::open(&file, None).await.unwrap();
        assert_eq!(source.size(), Some(data.len() as u64));
        let fingerprint = source.fingerprint().unwrap();
        assert!(fingerprint.starts_with("node-file:") && fingerprint.contains(":300007:"), "{fingerprint}");
        for (offset, len) in [(0, 65_536), (65_536, 100), (10, 20), (290_000, 40_000), (300_007, 10), (400_000, 5)] {
            let got = source.read(offset, len).await.unwrap();
            let (start, end) = ((offset as usize).min(data.len()), ((offset + len) as usize).min(data.len()));
            assert_eq!(&got[..], &data[start..end], "read of {len} bytes at {offset}");
        }
        let given = NodeFileSource::open(&file, Some("mine".into())).await.unwrap();
        assert_eq!(given.fingerprint().as_deref(), Some("mine"));
    }
    // Not closed by the sources that read it: a closed FileHandle's fd is -1.
    assert!(Reflect::get(&handle, &"fd".into()).unwrap().as_f64().unwrap() >= 0.0);
    close(&handle).await;

    let missing = format!("{path}.missing");
    let e = NodeFileSource::open(&JsValue::from(&missing), None).await.unwrap_err();
    assert!(e.kind() == ErrorKind::Io && e.to_string().contains(&missing), "{e}");
    let dir = path.trim_end_matches("/data.bin").to_owned();
    let e = NodeFileSource::open(&JsValue::from(&dir), None).await.unwrap_err();
    assert!(e.kind() == ErrorKind::InvalidInput && e.to_string().contains("regular file"), "{e}");
    node_remove_temp_file(&path);
}

/// In Node, a file is uploaded by its path or a `FileHandle`, in parts, to every service; a
/// missing path rejects `done` with an I/O error naming it. In a browser a path is refused.
#[wasm_bindgen_test]
async fn node_files_by_path_and_by_handle() {
    let _serial = serial().lock().await;
    let bytes = data(9 * MIB + 7, 11);
    let Some(path) = node_temp_file(&bytes) else {
        let task = uploader("wcs", "").upload("/tmp/data.bin".into(), options("js/node/none.bin", None)).unwrap();
        let e = finish(&task).await.unwrap_err();
        assert_eq!(get(&e, "kind").as_string().as_deref(), Some("invalid-input"), "{e:?}");
        return;
    };
    for (i, service) in SERVICES.into_iter().enumerate() {
        let key = format!("js/node/{service}.bin");
        let source = if i % 2 == 0 { JsValue::from(&path) } else { JsFuture::from(node_open(&path)).await.unwrap() };
        let task = uploader(service, "").upload(source.clone(), options(&key, None)).unwrap();
        let result = finish(&task).await.unwrap_or_else(|e| panic!("{service}: {e:?}"));
        assert_eq!(get(&result, "size").as_f64(), Some(bytes.len() as f64));
        assert_eq!(
            get(&result, "etag").as_string().unwrap().to_ascii_uppercase(),
            expected_etag(service, &bytes).to_ascii_uppercase(),
            "{service}"
        );
        assert!(read_back(service, &key).await == bytes, "{service}: bytes differ");
        if !source.is_string() {
            close(&source).await;
        }
    }
    let missing = format!("{path}.missing");
    let task = uploader("ufile", "").upload(missing.as_str().into(), options("js/node/missing.bin", None)).unwrap();
    let e = finish(&task).await.unwrap_err();
    assert_eq!(get(&e, "kind").as_string().as_deref(), Some("io"), "{e:?}");
    assert!(get(&e, "message").as_string().unwrap().contains(&missing), "{e:?}");
    node_remove_temp_file(&path);
}

#[wasm_bindgen_test]
async fn faults_on_a_fifth_of_part_requests() {
    let _serial = serial().lock().await;
    let bytes = data(13 * MIB + 5, 8);
    for (service, path) in [("wcs", "/mkblk"), ("ufile", "partNumber"), ("wantu", "blockUpload")] {
        for fault in [
            r#""errorRate":0.2,"errorStatuses":[500,503]"#,
            r#""resetRate":0.2"#,
            r#""stallRate":0.2,"stallMs":200"#,
            r#""truncateRate":0.2"#,
        ] {
            set_faults(&format!(r#"{{"seed":11,{fault},"services":["{service}"],"pathContains":"{path}"}}"#)).await;
            let key = format!("js/faults/{service}-{}.bin", fault.len());
            let task = uploader(service, r#","maxAttempts":10"#)
                .upload(Uint8Array::from(&bytes[..]).into(), options(&key, None))
                .unwrap();
            let result = finish(&task).await;
            set_faults("{}").await;
            let result = result.unwrap_or_else(|e| panic!("{service} with {fault}: {e:?}"));
            assert_eq!(
                get(&result, "etag").as_string().unwrap().to_ascii_uppercase(),
                expected_etag(service, &bytes).to_ascii_uppercase()
            );
            assert!(read_back(service, &key).await == bytes, "{service} with {fault}");
        }
    }
}

/// A commit whose reply is cut off once (in a page: fetch, CORS, a signed HEAD): UFile confirms
/// the object and succeeds; WCS and Wantu reject with `commit-unconfirmed`, the object stored.
#[wasm_bindgen_test]
async fn a_commit_whose_reply_is_lost() {
    let _serial = serial().lock().await;
    let bytes = data(9 * MIB + 3, 12);
    for (service, commit) in [("wcs", "/mkfile"), ("ufile", "?uploadId="), ("wantu", "blockComplete")] {
        set_faults(&format!(
            r#"{{"truncateRate":1,"maxFaults":1,"method":"POST","services":["{service}"],"pathContains":"{commit}"}}"#
        ))
        .await;
        let key = format!("js/lost-commit/{service}.bin");
        let task = uploader(service, "").upload(Uint8Array::from(&bytes[..]).into(), options(&key, None)).unwrap();
        let result = finish(&task).await;
        set_faults("{}").await;
        match (service, result) {
            ("ufile", Ok(done)) => {
                assert_eq!(get(&done, "etag").as_string().unwrap(), expected_etag(service, &bytes));
            }
            ("ufile", Err(e)) => panic!("ufile: {:?}", get(&e, "message")),
            (_, Ok(_)) => panic!("{service}: the retried commit cannot have succeeded"),
            (_, Err(e)) => {
                let code = get(&e, "code").as_string();
                assert_eq!(code.as_deref(), Some("commit-unconfirmed"), "{service}: {:?}", get(&e, "message"));
            }
        }
        assert!(read_back(service, &key).await == bytes, "{service}: the first commit stored it");
    }
}

/// The uploader to resume or list `up`'s saved uploads with: in a page a new one, as after a
/// reload (checkpoints are in `localStorage`); elsewhere `up` itself (they are in its memory).
fn after_reload(up: JsUploader, service: &str) -> JsUploader {
    if in_browser() { uploader(service, r#","concurrency":1"#) } else { up }
}

fn in_browser() -> bool {
    Reflect::has(&js_sys::global(), &"localStorage".into()).unwrap_or(false)
}

/// The entry of `uploader.pending()` for `key`.
async fn pending_entry(up: &JsUploader, key: &str) -> Option<JsValue> {
    let list: Array = JsFuture::from(up.pending()).await.unwrap().unchecked_into();
    list.iter().find(|entry| get(entry, "key").as_string().as_deref() == Some(key))
}

/// Upload `source` (`bytes`, 7 parts) to `key` with `up` and check that every part is sent: the
/// saved upload was given up, nothing is resumed.
async fn starts_over(up: &JsUploader, service: &str, source: JsValue, key: &str, bytes: &[u8]) {
    let mid = last_request().await;
    let result = finish(&up.upload(source, options(key, None)).unwrap()).await.unwrap();
    assert_eq!(part_requests(service, mid).await, 7, "the file starts over: nothing was resumed");
    assert_eq!(
        get(&result, "etag").as_string().unwrap().to_ascii_uppercase(),
        expected_etag(service, bytes).to_ascii_uppercase()
    );
}

/// Upload `source` to `key` and pause once `parts` parts are done: the task, and the error
/// `done` rejected with.
async fn pause_after(up: &JsUploader, source: JsValue, key: &str, parts: f64) -> (UploadTask, JsValue) {
    let task = std::rc::Rc::new(std::cell::RefCell::new(None::<UploadTask>));
    let handle = task.clone();
    let progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        if get(&p, "partsDone").as_f64().unwrap_or(0.0) >= parts
            && let Some(t) = handle.borrow().as_ref()
        {
            t.pause();
        }
    });
    let first = up.upload(source, options(key, Some(&progress))).unwrap();
    let done = first.done();
    *task.borrow_mut() = Some(first);
    let err = JsFuture::from(done).await.unwrap_err();
    let task = task.borrow_mut().take().unwrap();
    (task, err)
}

#[wasm_bindgen_test]
async fn pause_then_resume_sends_only_the_missing_parts() {
    let _serial = serial().lock().await;
    let bytes = data(6 * 4 * MIB + 3, 5); // 7 parts
    for service in SERVICES {
        let key = format!("js/resume/{service}.bin");
        let source = file(&bytes, &format!("resume-{service}.bin"));
        let up = uploader(service, r#","concurrency":1"#);
        let since = last_request().await;
        let (_, err) = pause_after(&up, source.clone(), &key, 3.0).await;
        assert_eq!(
            (get(&err, "name").as_string(), get(&err, "code").as_string()),
            (Some("YunupError".into()), Some("paused".into()))
        );
        let sent_before = part_requests(service, since).await;
        assert!(sent_before >= 3, "{service}: {sent_before}");

        // In a page the checkpoint is in localStorage: a new Uploader (as after a reload) finds it.
        let again = after_reload(up, service);
        let mid = last_request().await;
        let result = finish(&again.upload(source, options(&key, None)).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{service}: {e:?}"));
        let sent_after = part_requests(service, mid).await;
        assert!(
            sent_before + sent_after <= 8 && sent_after < 7,
            "{service}: {sent_before} then {sent_after}; finished parts are not sent again"
        );
        assert_eq!(
            get(&result, "etag").as_string().unwrap().to_ascii_uppercase(),
            expected_etag(service, &bytes).to_ascii_uppercase()
        );
        assert!(read_back(service, &key).await == bytes);
    }
}

#[wasm_bindgen_test]
async fn an_expired_token_is_fetched_again() {
    let _serial = serial().lock().await;
    let ak = env(option_env!("YUNUP_TEST_AK"));
    let sk = env(option_env!("YUNUP_TEST_SK"));
    for service in ["wcs", "wantu"] {
        for size in [10, 9 * MIB] {
            let calls = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let counter = calls.clone();
            let get_token = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |request: JsValue| {
                counter.set(counter.get() + 1);
                let refresh = get(&request, "refresh").as_bool().unwrap();
                let key = get(&request, "key").as_string().unwrap();
                // The first token has already expired; the refreshed one is good for an hour.
                let deadline = if refresh { js_sys::Date::now() + 3_600_000.0 } else { js_sys::Date::now() - 60_000.0 };
                let creds = json(&format!(r#"{{"accessKey":"{ak}","secretKey":"{sk}"}}"#));
                let token = if get(&request, "service").as_string().as_deref() == Some("wcs") {
                    yunup::js::JsWcs::upload_token(
                        creds,
                        json(&format!(r#"{{"scope":"public:{key}","deadline":{deadline}}}"#)),
                    )
                } else {
                    let (dir, name) = key.rsplit_once('/').unwrap_or(("", &key));
                    yunup::js::JsWantu::upload_token(
                        creds,
                        json(&format!(
                            r#"{{"namespace":"public","expiration":{deadline},"dir":"/{dir}","name":"{name}"}}"#
                        )),
                    )
                };
                let token: JsValue = token.unwrap().into();
                js_sys::Promise::resolve(&token).into()
            });
            let config =
                json(&format!(r#"{{"service":"{service}","endpoint":"{}","bucket":"public"}}"#, endpoint(service)));
            Reflect::set(&config, &"getToken".into(), get_token.as_ref()).unwrap();
            let up = JsUploader::new(config).unwrap();
            let key = format!("js/expiry/{service}-{size}.bin");
            let bytes = data(size, 1);
            let result = finish(&up.upload(Uint8Array::from(&bytes[..]).into(), options(&key, None)).unwrap()).await;
            let result = result.unwrap_or_else(|e| panic!("{service} {size}: {e:?}"));
            assert_eq!(calls.get(), 2, "{service} {size}: asked once, then once more after the refusal");
            assert_eq!(get(&result, "size").as_f64(), Some(size as f64));
        }
    }
}

#[wasm_bindgen_test]
async fn an_abort_signal_cancels_and_aborts_on_the_service() {
    let _serial = serial().lock().await;
    let controller = web_sys::AbortController::new().unwrap();
    let signal = controller.signal();
    let abort = controller.clone();
    let progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        if get(&p, "partsDone").as_f64().unwrap_or(0.0) >= 1.0 {
            abort.abort();
        }
    });
    let opts = options("js/cancelled.bin", Some(&progress));
    Reflect::set(&opts, &"signal".into(), &signal).unwrap();
    let since = last_request().await;
    let task =
        uploader("ufile", r#","concurrency":1"#).upload(Uint8Array::from(&data(20 * MIB, 2)[..]).into(), opts).unwrap();
    let err = finish(&task).await.unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("aborted"));
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("cancelled"));
    let r = http(Method::Get, &format!("{}/admin/requests?since={since}", demo()), "").await;
    assert!(r.text().contains(r#""method":"DELETE""#), "cancel aborts the multipart upload: {}", r.text());
    let r = http(Method::Get, &download_url("ufile", "js/cancelled.bin"), "").await;
    assert_eq!(r.status, 404, "nothing half-written is visible");
}

#[wasm_bindgen_test]
async fn bad_configuration_is_a_clear_error() {
    let _serial = serial().lock().await;
    let err = JsUploader::new(json(r#"{"service":"s3","endpoint":"x","bucket":"b","token":"t"}"#)).err().unwrap();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("invalid-input"));
    assert!(err.is_instance_of::<js_sys::Error>());
    let err = JsUploader::new(json(r#"{"service":"ufile","endpoint":"x","bucket":"b","token":"t"}"#)).err().unwrap();
    assert!(get(&err, "message").as_string().unwrap().contains("UFile signs every request"));
    let err = JsUploader::new(json(r#"{"service":"wcs","endpoint":"x","bucket":"b"}"#)).err().unwrap();
    assert!(get(&err, "message").as_string().unwrap().contains("exactly one of token, tokenUrl or getToken"));
    // What could only fail at the first upload (or never be noticed) is refused when the
    // uploader is made.
    for (extra, says) in [
        (r#""endpoint":"not a url""#, "not an http:// or https:// URL"),
        (r#""endpoint":"ftp://h""#, "not an http:// or https:// URL"),
        (r#""bucket":"""#, "bucket is empty"),
        (r#""concurrency":0"#, "concurrency must be at least 1"),
        (r#""maxAttempts":0"#, "attempts must be at least 1"),
        (r#""partSize":1000"#, "multiple of 4 MiB"),
        (r#""partsize":8388608"#, "unknown field `partsize`"),
    ] {
        let config = format!(r#"{{"service":"wcs","endpoint":"http://h","bucket":"b","token":"t",{extra}}}"#);
        let err = JsUploader::new(json(&config)).err().expect(extra);
        assert_eq!(get(&err, "kind").as_string().as_deref(), Some("invalid-input"), "{extra}");
        let message = get(&err, "message").as_string().unwrap();
        assert!(message.contains(says), "{extra}: {message}");
    }
    let up = uploader("wcs", "");
    // A progress callback that throws stops the upload, and `done` says what it threw.
    let throws = js_sys::Function::new_with_args("p", "throw new Error('a bug in the page')");
    let o = options("progress-throws", None);
    Reflect::set(&o, &"onProgress".into(), &throws).unwrap();
    let err = finish(&up.upload(Uint8Array::from(&data(100, 1)[..]).into(), o).unwrap()).await.unwrap_err();
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("progress-callback-threw"));
    assert!(get(&err, "message").as_string().unwrap().contains("a bug in the page"));
    let err = up.upload(JsValue::from_f64(3.0), json(r#"{"key":"k","onprogress":null}"#)).err().unwrap();
    assert!(get(&err, "message").as_string().unwrap().contains("unknown field `onprogress`"));
    let err = up.upload(JsValue::from_f64(3.0), options("k", None)).err().unwrap();
    assert!(get(&err, "message").as_string().unwrap().contains("Blob, File, Uint8Array"));
    // The class is exported for instanceof checks.
    let class: js_sys::Function = yunup::js::error_class().unchecked_into();
    assert!(
        err.is_instance_of::<js_sys::Error>()
            && Reflect::get(&err, &"constructor".into()).unwrap() == JsValue::from(class)
    );
}

/// A service that cannot be reached is a `network` error that names the host, and in Node says
/// why (Node's fetch itself says only "fetch failed"; browsers give no reason at all).
#[wasm_bindgen_test]
async fn an_unreachable_service_is_named_with_the_reason() {
    // Port 2 on loopback: nothing listens there, so the connection is refused at once. (Not port
    // 1: fetch refuses that port itself, and Node then says "bad port".)
    let config = r#"{"service":"wcs","endpoint":"http://127.0.0.1:2","bucket":"b","token":"t","maxAttempts":1}"#;
    let up = JsUploader::new(json(config)).unwrap();
    let err = finish(&up.upload(Uint8Array::from(&data(10, 1)[..]).into(), options("unreachable", None)).unwrap())
        .await
        .unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("network"));
    let message = get(&err, "message").as_string().unwrap();
    assert!(message.contains("request to 127.0.0.1:2 failed"), "{message}");
    if !in_browser() {
        assert!(message.contains("ECONNREFUSED"), "{message}");
    }
}

/// A request that stops moving (a server that holds it, a connection that died without a word)
/// is abandoned after `idleTimeoutMs` and sent again, instead of holding the upload until the
/// server lets go (here after 1000 s): a UFile part, then the token backend.
#[wasm_bindgen_test]
async fn a_stalled_request_is_abandoned_and_sent_again() {
    let _serial = serial().lock().await;
    let cases = [
        (
            "ufile",
            r#"{"stallRate":1,"stallMs":1000000,"maxFaults":1,"services":["ufile"],"pathContains":"partNumber"}"#,
        ),
        ("wcs", r#"{"stallRate":1,"stallMs":1000000,"maxFaults":1,"services":["backend"]}"#),
    ];
    for (i, (service, faults)) in cases.into_iter().enumerate() {
        let bytes = data(2 * 4 * MIB + 1, 40 + i as u8);
        let key = format!("js/stalled-{service}.bin");
        set_faults(faults).await;
        let up = uploader(service, r#","idleTimeoutMs":1000,"multipartThreshold":4194304"#);
        let task = up.upload(file(&bytes, "stalled.bin"), options(&key, None)).unwrap();
        let result = within_a_minute(service, finish(&task)).await;
        set_faults("{}").await;
        let result = result.unwrap_or_else(|e| panic!("{service}: {:?}", get(&e, "message")));
        assert_eq!(
            get(&result, "etag").as_string().unwrap().to_ascii_uppercase(),
            expected_etag(service, &bytes).to_ascii_uppercase(),
            "{service}"
        );
        assert!(read_back(service, &key).await == bytes, "{service}");
    }
}

/// A request that stalls on every attempt fails as a `network` error that says so, once the
/// attempts are spent.
#[wasm_bindgen_test]
async fn a_request_that_stalls_every_time_fails_as_a_network_error() {
    let _serial = serial().lock().await;
    set_faults(r#"{"stallRate":1,"stallMs":1000000,"services":["ufile"]}"#).await;
    let up = uploader("ufile", r#","idleTimeoutMs":300,"maxAttempts":2"#);
    let task = up.upload(Uint8Array::from(&data(1000, 3)[..]).into(), options("js/stalls.bin", None)).unwrap();
    let result = within_a_minute("ufile", finish(&task)).await;
    set_faults("{}").await;
    let err = result.expect_err("every request stalled");
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("network"), "{err:?}");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("timeout"), "{err:?}");
    let message = get(&err, "message").as_string().unwrap();
    assert!(message.contains("timed out: no progress for 300 ms"), "{message}");
    // Zero, a fraction, a negative number, a string: refused when the uploader is made.
    for bad in ["0", "1.5", "-1", r#""60""#] {
        let config = format!(
            r#"{{"service":"wcs","endpoint":"http://127.0.0.1:2","bucket":"b","token":"t","idleTimeoutMs":{bad}}}"#
        );
        let e = JsUploader::new(json(&config)).err().expect(bad);
        assert!(get(&e, "message").as_string().unwrap().contains("idleTimeoutMs"), "{bad}: {e:?}");
    }
}

/// A `ReadableStream` of unknown length, as an edge worker forwards a request body.
fn stream_of(bytes: &[u8], chunk: usize) -> JsValue {
    let chunks = Array::new();
    for c in bytes.chunks(chunk) {
        chunks.push(&Uint8Array::from(c));
    }
    // new Response(new Blob(chunks)).body is a byte stream everywhere fetch exists.
    let blob = web_sys::Blob::new_with_u8_array_sequence(&chunks).unwrap();
    let response = web_sys::Response::new_with_opt_blob(Some(&blob)).unwrap();
    response.body().unwrap().into()
}

#[wasm_bindgen_test]
async fn a_stream_of_unknown_length_and_a_fixed_token() {
    let _serial = serial().lock().await;
    for service in SERVICES {
        for size in [5, 9 * MIB + 11] {
            let key = format!("js/stream/{service}-{size}.bin");
            let bytes = data(size, 7);
            let task = uploader(service, "").upload(stream_of(&bytes, 64 * 1024 + 3), options(&key, None)).unwrap();
            let result = finish(&task).await.unwrap_or_else(|e| panic!("{service} {size}: {e:?}"));
            assert_eq!(get(&result, "size").as_f64(), Some(size as f64));
            assert!(read_back(service, &key).await == bytes, "{service} {size}");
        }
    }
    // A token minted by the backend beforehand, given as is.
    let r = http(Method::Get, &format!("{}/api/token/wcs?bucket=public&key=js/fixed.txt", demo()), "").await;
    let token = get(&json(&r.text()), "token").as_string().unwrap();
    let config = format!(r#"{{"service":"wcs","endpoint":"{}","bucket":"public","token":"{token}"}}"#, endpoint("wcs"));
    let up = JsUploader::new(json(&config)).unwrap();
    let result = finish(&up.upload(Uint8Array::from(&b"fixed"[..]).into(), options("js/fixed.txt", None)).unwrap())
        .await
        .unwrap();
    assert_eq!(get(&result, "etag").as_string().unwrap(), WcsEtag::digest(b"fixed"));
}

#[wasm_bindgen_test]
async fn pages_report_bytes_sent_as_they_go() {
    let _serial = serial().lock().await;
    let in_page = Reflect::has(&js_sys::global(), &"XMLHttpRequest".into()).unwrap_or(false);
    let size = 24 * MIB;
    let bytes = data(size, 9);
    // Hold each request at the server for a moment, so that the body is still on its way.
    set_faults(r#"{"seed":1,"stallRate":1.0,"stallMs":400,"services":["ufile"]}"#).await;
    let sent = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = sent.clone();
    let progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        sink.borrow_mut().push((get(&p, "sent").as_f64().unwrap(), get(&p, "confirmed").as_f64().unwrap()));
    });
    // One request for the whole file: progress inside it can only come from the transport.
    let up = uploader("ufile", &format!(r#","multipartThreshold":{}"#, 32 * MIB));
    let result =
        finish(&up.upload(Uint8Array::from(&bytes[..]).into(), options("js/progress.bin", Some(&progress))).unwrap())
            .await;
    set_faults("{}").await;
    result.unwrap();
    let sent = sent.borrow().clone();
    assert!(sent.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1), "never backwards: {sent:?}");
    assert!(sent.iter().all(|(s, c)| s >= c && *s <= size as f64), "{sent:?}");
    assert_eq!(sent.last().copied(), Some((size as f64, size as f64)));
    let partial = sent.iter().any(|(s, _)| *s > 0.0 && *s < size as f64);
    if in_page {
        assert!(partial, "XHR reports bytes as they go: {sent:?}");
    }
}

/// In Node, a file rewritten while its parts are being sent fails the upload before it is
/// committed, and nothing is stored: the etags match what was sent, so only the file's size and
/// modification time can tell. (A mix of old and new bytes was stored and reported before.)
#[wasm_bindgen_test]
async fn a_node_file_rewritten_during_its_upload_is_not_stored() {
    let _serial = serial().lock().await;
    let bytes = data(3 * 4 * MIB + 5, 12);
    let Some(path) = node_temp_file(&bytes) else { return }; // no files in a browser
    let rewritten = std::rc::Rc::new(std::cell::Cell::new(false));
    let (flag, file) = (rewritten.clone(), path.clone());
    let progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        if get(&p, "partsDone").as_f64().unwrap_or(0.0) >= 1.0 && !flag.get() {
            flag.set(true);
            node_rewrite_first_byte(&file);
        }
    });
    let key = "js/node/rewritten.bin";
    let task =
        uploader("ufile", r#","concurrency":1"#).upload(path.as_str().into(), options(key, Some(&progress))).unwrap();
    let e = finish(&task).await.unwrap_err();
    node_remove_temp_file(&path);
    assert!(rewritten.get());
    assert_eq!(get(&e, "kind").as_string().as_deref(), Some("invalid-input"), "{e:?}");
    assert!(get(&e, "message").as_string().unwrap().contains("changed while"), "{e:?}");
    let r = http(Method::Get, &download_url("ufile", key), "").await;
    assert_eq!(r.status, 404, "nothing is stored");
}

/// Resolves after `ms` (a timer, in Node and in pages).
async fn sleep_ms(ms: u64) {
    yunup::engine::Runtime::sleep(&yunup::runtime::web::WebRuntime, ms).await;
}

/// `work`'s output, or a panic naming `what` once a minute has passed: the bound of a test for a
/// hang, so that the hang fails the test instead of holding the run (in Node nothing else ends
/// a test that never finishes).
async fn within_a_minute<T>(what: &str, work: impl std::future::Future<Output = T>) -> T {
    let work = std::pin::pin!(work);
    let timeout = std::pin::pin!(sleep_ms(60_000));
    match futures_util::future::select(work, timeout).await {
        futures_util::future::Either::Left((out, _)) => out,
        futures_util::future::Either::Right(_) => panic!("{what}: still waiting after a minute"),
    }
}

/// Cancel and pause end a wait on `getToken` that never settles (a backend that hangs): `done`
/// rejects at once. It stayed pending forever before. The 30 s bound is for that hang only.
#[wasm_bindgen_test]
async fn a_token_function_that_never_answers_does_not_hold_a_stopped_upload() {
    let _serial = serial().lock().await;
    for cancel in [true, false] {
        let calls = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let counter = calls.clone();
        let get_token = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |_: JsValue| {
            counter.set(counter.get() + 1);
            js_sys::Promise::new(&mut |_, _| {}).into()
        });
        let config = json(&format!(r#"{{"service":"wcs","endpoint":"{}","bucket":"public"}}"#, endpoint("wcs")));
        Reflect::set(&config, &"getToken".into(), get_token.as_ref()).unwrap();
        let task = JsUploader::new(config)
            .unwrap()
            .upload(Uint8Array::from(&b"hello"[..]).into(), options("js/hang", None))
            .unwrap();
        sleep_ms(100).await;
        assert_eq!(calls.get(), 1, "the upload is waiting for its token");
        let stopped = if cancel {
            let _ = task.cancel();
            "cancelled"
        } else {
            task.pause();
            "paused"
        };
        let done = std::pin::pin!(finish(&task));
        let timeout = std::pin::pin!(sleep_ms(30_000));
        match futures_util::future::select(done, timeout).await {
            futures_util::future::Either::Left((result, _)) => {
                let e = result.unwrap_err();
                assert_eq!(get(&e, "code").as_string().as_deref(), Some(stopped), "{e:?}");
            }
            futures_util::future::Either::Right(_) => panic!("{stopped}: done stayed pending"),
        }
    }
}

/// A 7-part `File` named `name` (bytes of `seed`) uploading to `service` as `key`, one part at a
/// time, paused after two parts: its uploader, task, file and bytes.
async fn paused_seven_parts(
    service: &str,
    seed: u8,
    name: &str,
    key: &str,
) -> (JsUploader, UploadTask, JsValue, Vec<u8>) {
    let bytes = data(6 * 4 * MIB + 3, seed);
    let source = file(&bytes, name);
    let up = uploader(service, r#","concurrency":1"#);
    let (task, err) = pause_after(&up, source.clone(), key, 2.0).await;
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("paused"));
    (up, task, source, bytes)
}

/// `cancel()` after a pause gives the saved upload up: the service's multipart session is
/// aborted and the checkpoint dropped, so the same file starts from its first part again. (It did
/// nothing before: the paused upload stayed open and the next upload of the file resumed it.)
#[wasm_bindgen_test]
async fn cancel_after_a_pause_gives_the_saved_upload_up() {
    let _serial = serial().lock().await;
    let key = "js/discard.bin";
    let (up, task, source, bytes) = paused_seven_parts("ufile", 13, "discard.bin", key).await;

    let since = last_request().await;
    let cancelled = task.cancel();
    JsFuture::from(cancelled).await.unwrap();
    let r = http(Method::Get, &format!("{}/admin/requests?since={since}", demo()), "").await;
    assert!(r.text().contains(r#""method":"DELETE""#), "the paused upload is aborted: {}", r.text());

    starts_over(&up, "ufile", source, key, &bytes).await;
}

/// `pending()` lists an upload that stopped (in a page also from a new `Uploader`, as after a
/// reload), with what a page needs to ask for the file again; `discard()` gives it up without the
/// file: aborted on the service, gone from the list, and the same file starts over.
#[wasm_bindgen_test]
async fn pending_uploads_are_listed_and_can_be_discarded_without_the_file() {
    let _serial = serial().lock().await;
    let key = "js/pending.bin";
    let (up, _, source, bytes) = paused_seven_parts("wantu", 16, "pending: one.bin", key).await;

    let later = after_reload(up, "wantu");
    let entry = pending_entry(&later, key).await.expect("the paused upload is pending");
    assert_eq!(get(&entry, "size").as_f64(), Some(bytes.len() as f64));
    assert_eq!(get(&entry, "name").as_string().as_deref(), Some("pending: one.bin"));
    assert_eq!(get(&entry, "lastModified").as_f64(), get(&source, "lastModified").as_f64());
    let (confirmed, parts) = (get(&entry, "confirmed").as_f64().unwrap(), get(&entry, "partsDone").as_f64().unwrap());
    assert!(parts >= 2.0 && confirmed >= parts * (4 * MIB) as f64, "{parts} parts, {confirmed} bytes");
    let started = get(&entry, "startedAt").as_f64().unwrap();
    assert!((js_sys::Date::now() - started).abs() < 600_000.0, "started {started}");
    assert!(get(&entry, "fingerprint").is_string());
    assert_eq!(get(&entry, "running").as_bool(), Some(false), "paused, not running");
    let other = uploader("wcs", "");
    assert!(pending_entry(&other, key).await.is_none(), "listed for another service");

    let since = last_request().await;
    let discarded = JsFuture::from(later.discard(entry.clone()).unwrap()).await.unwrap();
    assert_eq!(discarded.as_bool(), Some(true));
    let r = http(Method::Get, &format!("{}/admin/requests?since={since}", demo()), "").await;
    assert!(r.text().contains("/api/proxy/blockCancel"), "the upload is aborted on the service: {}", r.text());
    assert!(pending_entry(&later, key).await.is_none(), "still pending");
    assert_eq!(JsFuture::from(later.discard(entry).unwrap()).await.unwrap().as_bool(), Some(false));
    let err = later.discard(json(r#"{"key":"k"}"#)).unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("invalid-input"), "{:?}", get(&err, "message"));

    starts_over(&later, "wantu", source, key, &bytes).await;
}

/// The same file to the same key twice at once would share one checkpoint and one multipart
/// upload: the second task is refused (`upload-in-progress`) while the first runs, in a page also
/// from another `Uploader` (Web Locks span the origin's tabs), and so is `discard()`; `pending()`
/// marks it running; the first finishes unharmed.
#[wasm_bindgen_test]
async fn the_same_file_twice_at_once_is_refused() {
    let _serial = serial().lock().await;
    let bytes = data(3 * 4 * MIB + 1, 17);
    let source = file(&bytes, "twice.bin");
    let key = "js/twice.bin";
    set_faults(r#"{"stallRate":1,"stallMs":300,"services":["ufile"],"pathContains":"partNumber"}"#).await;
    let up = uploader("ufile", r#","concurrency":1"#);
    let running = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = running.clone();
    let progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        flag.set(flag.get() || get(&p, "partsDone").as_f64().unwrap_or(0.0) >= 1.0);
    });
    let first = up.upload(source.clone(), options(key, Some(&progress))).unwrap();
    while !running.get() {
        sleep_ms(10).await;
    }
    let other = after_reload(up, "ufile");
    let err = finish(&other.upload(source.clone(), options(key, None)).unwrap()).await.unwrap_err();
    let entry = pending_entry(&other, key).await.expect("the running upload's checkpoint");
    // In a page seen through Web Locks (navigator.locks.query), as another tab would.
    assert_eq!(get(&entry, "running").as_bool(), Some(true), "listed as running while it runs");
    let refused = JsFuture::from(other.discard(entry).unwrap()).await.unwrap_err();
    if in_browser() {
        // Held through Web Locks, which other tabs see, not only in this page's memory.
        let locks = get(&get(&js_sys::global(), "navigator"), "locks");
        let query: js_sys::Function = get(&locks, "query").unchecked_into();
        let snapshot = JsFuture::from(js_sys::Promise::from(query.call0(&locks).unwrap())).await.unwrap();
        let held: Array = get(&snapshot, "held").unchecked_into();
        let names: Vec<String> = held.iter().filter_map(|l| get(&l, "name").as_string()).collect();
        assert!(names.iter().any(|n| n.starts_with("yunup-checkpoint-")), "Web Locks held: {names:?}");
    }
    set_faults("{}").await;
    for e in [&err, &refused] {
        assert_eq!(get(e, "code").as_string().as_deref(), Some("upload-in-progress"), "{:?}", get(e, "message"));
        assert_eq!(get(e, "kind").as_string().as_deref(), Some("invalid-input"));
    }
    let result = finish(&first).await.expect("the first upload carries on");
    assert_eq!(get(&result, "etag").as_string().unwrap(), expected_etag("ufile", &bytes));
    assert!(read_back("ufile", key).await == bytes);
}

/// A token backend that fails for a moment (503s) is asked again: UFile asks it to sign every
/// request, so one failure ended a long upload before.
#[wasm_bindgen_test]
async fn a_token_backend_that_fails_for_a_moment_is_asked_again() {
    let _serial = serial().lock().await;
    let bytes = data(9 * MIB + 7, 14);
    set_faults(r#"{"seed":5,"errorRate":0.4,"errorStatuses":[502,503],"services":["backend"]}"#).await;
    let mut outcomes = Vec::new();
    for service in SERVICES {
        let key = format!("js/backend-faults/{service}.bin");
        let task = uploader(service, r#","maxAttempts":10"#)
            .upload(Uint8Array::from(&bytes[..]).into(), options(&key, None))
            .unwrap();
        outcomes.push((service, finish(&task).await));
    }
    set_faults("{}").await;
    for (service, result) in outcomes {
        let result = result.unwrap_or_else(|e| panic!("{service}: {e:?}"));
        assert_eq!(
            get(&result, "etag").as_string().unwrap().to_ascii_uppercase(),
            expected_etag(service, &bytes).to_ascii_uppercase()
        );
    }
}

/// In a page, a new `Uploader` removes the checkpoints no upload can resume any more (a week old,
/// or unreadable) from `localStorage`, and leaves recent ones and other keys alone: abandoned
/// uploads piled up there before, until the origin's quota was gone.
#[wasm_bindgen_test]
async fn old_checkpoints_are_pruned_from_local_storage() {
    let _serial = serial().lock().await;
    let storage = Reflect::get(&js_sys::global(), &"localStorage".into()).ok();
    let Some(storage) = storage.and_then(|s| s.dyn_into::<web_sys::Storage>().ok()) else { return }; // Node
    // A real checkpoint: pause an upload after its first part.
    let bytes = data(3 * 4 * MIB + 1, 15);
    let source = file(&bytes, "prune.bin");
    let up = uploader("ufile", r#","concurrency":1"#);
    let keys = || -> Vec<String> { (0..storage.length().unwrap()).filter_map(|i| storage.key(i).unwrap()).collect() };
    let before = keys();
    let (task, _) = pause_after(&up, source, "js/prune.bin", 1.0).await;
    let recent = keys()
        .into_iter()
        .find(|k| k.starts_with("yunup-checkpoint-") && !before.contains(k))
        .expect("the paused upload's checkpoint");
    let text = storage.get_item(&recent).unwrap().unwrap();
    // The same checkpoint eight days older, under another key; an unreadable one; another app's.
    assert!(text.contains(r#""createdMs":"#), "{text}");
    let old = with_field(&text, "createdMs", JsValue::from_f64(js_sys::Date::now() - 8.0 * 86_400_000.0));
    storage.set_item("yunup-checkpoint-old", &old).unwrap();
    storage.set_item("yunup-checkpoint-junk", "{not json").unwrap();
    storage.set_item("another-app", "{not json").unwrap();

    let _ = uploader("wcs", "");
    let left = keys();
    assert!(left.contains(&recent) && left.contains(&"another-app".to_owned()), "{left:?}");
    assert!(!left.iter().any(|k| k == "yunup-checkpoint-old" || k == "yunup-checkpoint-junk"), "{left:?}");
    storage.remove_item("another-app").unwrap();
    let gave_up = task.cancel();
    JsFuture::from(gave_up).await.unwrap();
    assert!(!keys().contains(&recent), "cancel() dropped the paused upload's checkpoint");
}

/// `text` (a JSON object) with `field` set to `value`.
fn with_field(text: &str, field: &str, value: JsValue) -> String {
    let object = json(text);
    Reflect::set(&object, &field.into(), &value).unwrap();
    js_sys::JSON::stringify(&object).unwrap().as_string().unwrap()
}

/// When one part fails for good, the parts still in flight are aborted, not left to finish
/// sending: the upload has given up on them. Seed 139 stalls the first two block requests to reach
/// the emulator (two 64 MiB WCS blocks) for 10 s and refuses the third (the last, 1 MiB) at once
/// with a 400, which is final. Aborted, the stalled blocks end short when the emulator reads them;
/// left to run, they would be sent in full and stored (200). The blocks are 64 MiB because a
/// smaller body fits in the loopback connection's buffers during the stall and arrives whole even
/// when its request is aborted.
#[wasm_bindgen_test]
async fn parts_in_flight_are_aborted_when_another_part_fails() {
    let _serial = serial().lock().await;
    set_faults(
        r#"{"seed":139,"stallRate":0.5,"stallMs":10000,"errorRate":0.5,"errorStatuses":[400],"services":["wcs"],"pathContains":"/mkblk"}"#,
    )
    .await;
    let since = last_request().await;
    let source = file(&data(129 * MIB, 6), "dropped-parts.bin");
    let task = uploader("wcs", r#","concurrency":3,"partSize":67108864"#)
        .upload(source, options("js/dropped-parts.bin", None))
        .unwrap();
    let result = finish(&task).await;
    sleep_ms(11_000).await;
    set_faults("{}").await;
    let err = result.expect_err("a block was refused");
    assert_eq!(get(&err, "status").as_f64(), Some(400.0), "{err:?}");
    assert_eq!(part_requests("wcs", since).await, 0, "the stalled blocks were aborted, not sent to the end");
    // The failed upload's checkpoint is given up, not left for the other tests to find.
    JsFuture::from(task.cancel()).await.unwrap();
}
