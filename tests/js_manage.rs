//! Management from wasm (an edge worker's view) against a real emulator, in Node and Chromium:
//! WCS list with paging, stat, delete, copy, move, setDeadline, fmgr and fops jobs, a signal;
//! UFile list, head, ranges, delete; Wantu files and folders. Run through scripts/with-emulator.sh (make test does).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use yunup::hash::{Hasher, Md5, WcsEtag};
use yunup::js::{JsUfileManager, JsUploader, JsWantuManager, JsWcsManager};

fn env(value: Option<&'static str>) -> &'static str {
    value.expect("run these tests through scripts/with-emulator.sh (make test does): no emulator URL was set")
}

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

fn get(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).unwrap()
}

fn credentials() -> JsValue {
    json(&format!(
        r#"{{"accessKey":"{}","secretKey":"{}"}}"#,
        env(option_env!("YUNUP_TEST_AK")),
        env(option_env!("YUNUP_TEST_SK"))
    ))
}

fn manager() -> JsWcsManager {
    JsWcsManager::new(credentials(), env(option_env!("YUNUP_TEST_WCS")).into(), None).unwrap()
}

/// The private UFile bucket's manager, with `bytes` uploaded there as `key`.
async fn private_ufile_with(key: &str, bytes: &[u8]) -> JsUfileManager {
    let ufile = env(option_env!("YUNUP_TEST_UFILE"));
    let config = format!(
        r#"{{"service":"ufile","endpoint":"{ufile}/secret","bucket":"secret","tokenUrl":"{}"}}"#,
        env(option_env!("YUNUP_TEST_DEMO"))
    );
    let options = js_sys::Object::new();
    Reflect::set(&options, &"key".into(), &key.into()).unwrap();
    let task = JsUploader::new(json(&config)).unwrap().upload(Uint8Array::from(bytes).into(), options.into()).unwrap();
    JsFuture::from(task.done()).await.unwrap();
    JsUfileManager::new(credentials(), format!("{ufile}/secret").into(), "secret".into(), None).unwrap()
}

async fn put(key: &str, bytes: &[u8]) {
    put_to("wcs", env(option_env!("YUNUP_TEST_WCS")), key, bytes).await;
}

/// Upload `bytes` as `key` to the bucket (Wantu: namespace) "public" of `service` at `endpoint`.
async fn put_to(service: &str, endpoint: &str, key: &str, bytes: &[u8]) {
    let config = format!(
        r#"{{"service":"{service}","endpoint":"{endpoint}","bucket":"public","tokenUrl":"{}"}}"#,
        env(option_env!("YUNUP_TEST_DEMO"))
    );
    let options = js_sys::Object::new();
    Reflect::set(&options, &"key".into(), &key.into()).unwrap();
    let task = JsUploader::new(json(&config)).unwrap().upload(Uint8Array::from(bytes).into(), options.into()).unwrap();
    JsFuture::from(task.done()).await.unwrap();
}

#[wasm_bindgen_test]
async fn list_pages_stat_and_delete() {
    let prefix = format!("js-manage/{}/", js_sys::Date::now() as u64);
    for i in 0..5 {
        put(&format!("{prefix}f{i}.txt"), format!("file {i}").as_bytes()).await;
    }
    let m = manager();
    let mut keys = Vec::new();
    let mut marker = String::new();
    let mut pages = 0;
    loop {
        let query = json(&format!(r#"{{"bucket":"public","prefix":"{prefix}","limit":2,"marker":"{marker}"}}"#));
        let page = JsFuture::from(m.list(query)).await.unwrap();
        pages += 1;
        let items: Array = get(&page, "items").unchecked_into();
        for item in items.iter() {
            keys.push(get(&item, "key").as_string().unwrap());
        }
        let next = get(&page, "marker");
        if next.is_undefined() {
            break;
        }
        // Optional fields are `undefined` when absent, as the types say: a `null` marker passed
        // back started the listing over.
        marker = next.as_string().expect("the marker is a string or undefined");
        assert!(!marker.is_empty(), "a page with more after it has a marker");
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(pages, 3, "5 objects in pages of 2");
    assert_eq!(keys, (0..5).map(|i| format!("{prefix}f{i}.txt")).collect::<Vec<_>>());

    let stat = JsFuture::from(m.stat("public".into(), format!("{prefix}f3.txt").into())).await.unwrap();
    assert_eq!(get(&stat, "fsize").as_f64(), Some(6.0));
    assert_eq!(get(&stat, "hash").as_string().unwrap(), WcsEtag::digest(b"file 3"));

    JsFuture::from(m.delete("public".into(), format!("{prefix}f3.txt").into())).await.unwrap();
    let err = JsFuture::from(m.stat("public".into(), format!("{prefix}f3.txt").into())).await.unwrap_err();
    assert_eq!(get(&err, "name").as_string().as_deref(), Some("YunupError"));
    assert_eq!(get(&err, "status").as_f64(), Some(404.0));

    // Wrong secret: a clear auth error, the secret nowhere in it.
    let bad = JsWcsManager::new(
        json(r#"{"accessKey":"test-ak","secretKey":"not-the-secret"}"#),
        env(option_env!("YUNUP_TEST_WCS")).into(),
        None,
    )
    .unwrap();
    let err = JsFuture::from(bad.stat("public".into(), format!("{prefix}f1.txt").into())).await.unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("auth"));
    assert!(!get(&err, "message").as_string().unwrap().contains("not-the-secret"));
}

#[wasm_bindgen_test]
async fn private_download_with_a_range_head_and_delete() {
    use yunup::engine::Transport;
    use yunup::runtime::web::FetchTransport;
    use yunup::service::{HttpRequest, Method};
    let ufile = env(option_env!("YUNUP_TEST_UFILE"));
    let key = format!("js-manage/{}/private.bin", js_sys::Date::now() as u64);
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let m = private_ufile_with(&key, &bytes).await;
    // Unsigned: refused. Presigned, with a Range: 206 and exactly those bytes.
    let plain =
        FetchTransport::default().send(HttpRequest::new(Method::Get, format!("{ufile}/secret/{key}"))).await.unwrap();
    assert_eq!(plain.status, 403);
    // Lifetimes that are not a whole number of seconds are refused, not wrapped (-1 was 136 years).
    for bad in [-1.0, 0.0, 1.5, f64::NAN, 1e300] {
        assert!(m.private_url(key.as_str().into(), bad).is_err(), "{bad}");
    }
    let url = m.private_url(key.as_str().into(), 600.0).unwrap();
    let ranged = FetchTransport::default()
        .send(HttpRequest::new(Method::Get, url).header("Range", "bytes=10-19"))
        .await
        .unwrap();
    assert_eq!(ranged.status, 206);
    assert_eq!(&ranged.body[..], &bytes[10..20]);
    // The manager's own ranged read.
    let chunk = JsFuture::from(m.fetch_range(key.as_str().into(), 99_990.0, None)).await.unwrap();
    assert_eq!(get(&chunk, "total").as_f64(), Some(100_000.0));
    let data: Uint8Array = get(&chunk, "data").unchecked_into();
    assert_eq!(data.to_vec(), bytes[99_990..]);
    // `Infinity` reads to the end; negative, fractional and NaN offsets are refused, not cast to 0.
    let chunk = JsFuture::from(m.fetch_range(key.as_str().into(), 99_990.0, Some(f64::INFINITY))).await.unwrap();
    assert_eq!(get(&chunk, "data").unchecked_into::<Uint8Array>().to_vec(), bytes[99_990..]);
    for (start, end) in [(-100.0, None), (0.0, Some(-1.0)), (f64::NAN, None), (1.5, None), (5.0, Some(4.0))] {
        let err = JsFuture::from(m.fetch_range(key.as_str().into(), start, end)).await.unwrap_err();
        let message = format!("{err:?}");
        assert!(message.contains("fetchRange") || message.contains("ends before"), "{start} {end:?}: {message}");
    }
    let head = JsFuture::from(m.head(key.as_str().into())).await.unwrap();
    assert_eq!(get(&head, "size").as_f64(), Some(100_000.0));
    JsFuture::from(m.delete(key.as_str().into())).await.unwrap();
    assert!(JsFuture::from(m.head(key.into())).await.unwrap().is_null());
}

fn message_of(err: &JsValue) -> String {
    assert_eq!(get(err, "name").as_string().as_deref(), Some("YunupError"), "{err:?}");
    assert_eq!(get(err, "kind").as_string().as_deref(), Some("invalid-input"), "{err:?}");
    get(err, "message").as_string().unwrap()
}

/// A number where a string goes used to end in a wasm trap ("memory access out of bounds"): the
/// glue took it for a pointer. Now every argument is checked, and a method that returns a
/// promise rejects it rather than throwing before the caller's `await`.
#[wasm_bindgen_test]
async fn wrong_arguments_are_errors_and_promises_reject_them() {
    let creds = || json(r#"{"accessKey":"ak","secretKey":"sk"}"#);
    let err = JsWcsManager::new(creds(), 5.into(), None).err().unwrap();
    assert!(message_of(&err).contains("endpoint must be a string, not number"), "{err:?}");
    let err = JsWcsManager::new(creds(), "ftp://example.com".into(), None).err().unwrap();
    assert!(message_of(&err).contains("is not an http:// or https:// URL"), "{err:?}");
    // As the Python SDK does, a host without a scheme is taken as http://.
    assert!(JsWcsManager::new(creds(), "acct.mgr0.example.com".into(), None).is_ok());

    let m = manager();
    let rejected = |promise: js_sys::Promise| async move { message_of(&JsFuture::from(promise).await.unwrap_err()) };
    assert!(rejected(m.stat("public".into(), 42.into())).await.contains("WcsManager.stat: the key must be a string"));
    assert!(rejected(m.delete(JsValue::NULL, "k".into())).await.contains("the bucket must be a string, not null"));
    assert!(rejected(m.list(json("{}"))).await.contains("`bucket` must be given"));
    let misspelt = rejected(m.list(json(r#"{"bucket":"public","limt":2}"#))).await;
    assert!(misspelt.contains("unknown field `limt`"), "{misspelt}");
    assert!(rejected(m.list(json(r#"{"bucket":"public","limit":0}"#))).await.contains("from 1 to 1000"));
    assert!(rejected(m.list(json(r#"{"bucket":"public","mode":2}"#))).await.contains("`mode` must be 0"));

    let err = JsUfileManager::new(creds(), 9.into(), "b".into(), None).err().unwrap();
    assert!(message_of(&err).contains("base URL must be a string, not number"), "{err:?}");
    let err = JsUfileManager::new(creds(), "not a url".into(), "b".into(), None).err().unwrap();
    assert!(message_of(&err).contains("is not an http:// or https:// URL"), "{err:?}");
    let err = JsUfileManager::new(creds(), "http://h/b".into(), "".into(), None).err().unwrap();
    assert!(message_of(&err).contains("the bucket is empty"), "{err:?}");
    let u = JsUfileManager::new(creds(), "http://127.0.0.1:2/b".into(), "b".into(), None).unwrap();
    assert!(message_of(&u.private_url(9.into(), 60.0).unwrap_err()).contains("privateUrl: the key must be a string"));
    assert!(rejected(u.head(42.into())).await.contains("UfileManager.head: the key must be a string"));
    assert!(rejected(u.fetch_range(JsValue::UNDEFINED, 0.0, None)).await.contains("not undefined"));
    assert!(rejected(u.delete(json("{}"))).await.contains("not a Object"));
    // A key the URL would change is refused before anything is sent (port 2 would fail).
    assert!(rejected(u.head("a/../b".into())).await.contains("'.' or '..' segment"));
}

/// `mode` lists a prefix as a directory: its files, and its sub-directories in
/// `commonPrefixes` (always empty before: the query had no `mode`).
#[wasm_bindgen_test]
async fn a_listing_by_directory_names_the_sub_directories() {
    let dir = format!("js-manage/{}/dir/", js_sys::Date::now() as u64);
    for name in ["a.txt", "sub1/b.txt", "sub2/c/d.txt"] {
        put(&format!("{dir}{name}"), name.as_bytes()).await;
    }
    let m = manager();
    for (mode, dirs_first) in [(0, false), (1, true)] {
        let query = json(&format!(r#"{{"bucket":"public","prefix":"{dir}","mode":{mode}}}"#));
        let page = JsFuture::from(m.list(query)).await.unwrap();
        let keys: Vec<String> =
            get(&page, "items").unchecked_into::<Array>().iter().map(|i| get(&i, "key").as_string().unwrap()).collect();
        let dirs: Vec<String> =
            get(&page, "commonPrefixes").unchecked_into::<Array>().iter().map(|p| p.as_string().unwrap()).collect();
        assert_eq!(keys, [format!("{dir}a.txt")], "mode {mode}, dirs first: {dirs_first}");
        assert_eq!(dirs, [format!("{dir}sub1/"), format!("{dir}sub2/")], "mode {mode}");
    }
}

/// An empty object read from byte 0 is no bytes (the service's 416 said it was an error).
#[wasm_bindgen_test]
async fn an_empty_object_is_read_as_no_bytes() {
    let key = format!("js-manage/{}/empty.bin", js_sys::Date::now() as u64);
    let m = private_ufile_with(&key, b"").await;
    let chunk = JsFuture::from(m.fetch_range(key.as_str().into(), 0.0, None)).await.unwrap();
    assert_eq!(get(&chunk, "total").as_f64(), Some(0.0));
    assert_eq!(get(&chunk, "data").unchecked_into::<Uint8Array>().length(), 0);
    // Past the end is still an error.
    let err = JsFuture::from(m.fetch_range(key.as_str().into(), 1.0, None)).await.unwrap_err();
    assert_eq!(get(&err, "status").as_f64(), Some(416.0));
    JsFuture::from(m.delete(key.into())).await.unwrap();
}

async fn set_faults(config: &str) {
    use yunup::engine::Transport;
    use yunup::runtime::web::FetchTransport;
    use yunup::service::{HttpRequest, Method};
    let url = format!("{}/admin/faults", env(option_env!("YUNUP_TEST_DEMO")));
    let r = FetchTransport::default().send(HttpRequest::new(Method::Put, url).body(config.to_owned())).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A busy server's 503 no longer fails a read: `stat` is sent again (up to 4 tries). A delete
/// goes once: whether a lost reply's delete happened cannot be known.
#[wasm_bindgen_test]
async fn reads_are_tried_again_after_a_503_and_writes_are_not() {
    use base64::Engine as _;
    let key = format!("js-manage/{}/busy.txt", js_sys::Date::now() as u64);
    put(&key, b"busy").await;
    // Faults for this object's requests only (its entry, as the paths carry it).
    let entry = base64::engine::general_purpose::URL_SAFE.encode(format!("public:{key}"));
    let m = manager();
    let busy = |path: &str, times: u32| {
        format!(
            r#"{{"errorRate":1,"errorStatuses":[503],"services":["wcs"],"pathContains":"{path}","maxFaults":{times}}}"#
        )
    };
    set_faults(&busy(&format!("/stat/{entry}"), 3)).await;
    let stat = JsFuture::from(m.stat("public".into(), key.as_str().into())).await;
    set_faults("{}").await;
    assert_eq!(get(&stat.unwrap(), "fsize").as_f64(), Some(4.0));

    set_faults(&busy(&format!("/delete/{entry}"), 1)).await;
    let deleted = JsFuture::from(m.delete("public".into(), key.as_str().into())).await;
    set_faults("{}").await;
    assert_eq!(get(&deleted.unwrap_err(), "status").as_f64(), Some(503.0));
    JsFuture::from(m.delete("public".into(), key.as_str().into())).await.unwrap();
}

/// A management request the server holds (here for 1000 s) is abandoned after the manager's
/// `idleTimeoutMs`: a read is tried again, and fails as a `network` error that says it stalled
/// once its tries are spent, instead of a promise that never settles.
#[wasm_bindgen_test]
async fn a_stalled_read_is_abandoned() {
    use base64::Engine as _;
    let key = format!("js-manage/{}/held.txt", js_sys::Date::now() as u64);
    put(&key, b"held").await;
    let options = json(r#"{"idleTimeoutMs":200}"#);
    let m = JsWcsManager::new(credentials(), env(option_env!("YUNUP_TEST_WCS")).into(), Some(options)).unwrap();
    // This object's requests only (its entry, as the paths carry it).
    let entry = base64::engine::general_purpose::URL_SAFE.encode(format!("public:{key}"));
    let held = |times: u32| {
        format!(
            r#"{{"stallRate":1,"stallMs":1000000,"services":["wcs"],"pathContains":"/stat/{entry}","maxFaults":{times}}}"#
        )
    };
    set_faults(&held(1)).await;
    let stat = within_a_minute(JsFuture::from(m.stat("public".into(), key.as_str().into()))).await;
    set_faults(&held(0)).await;
    let stalled = within_a_minute(JsFuture::from(m.stat("public".into(), key.as_str().into()))).await;
    set_faults("{}").await;
    assert_eq!(get(&stat.unwrap(), "fsize").as_f64(), Some(4.0), "sent again after one stall");
    let err = stalled.unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("network"), "{err:?}");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("timeout"), "{err:?}");
    let message = get(&err, "message").as_string().unwrap();
    assert!(message.contains("timed out: no progress for 200 ms"), "{message}");
    for bad in [r#"{"idleTimeoutMs":0}"#, r#"{"idleTimeout":5}"#, "5"] {
        let err = JsWcsManager::new(credentials(), "http://127.0.0.1:2".into(), Some(json(bad))).err().expect(bad);
        assert_eq!(get(&err, "kind").as_string().as_deref(), Some("invalid-input"), "{bad}");
    }
}

/// `work`'s output, or a panic once a minute has passed: the bound of a test for a hang (in Node
/// nothing else ends a test that never finishes).
async fn within_a_minute<T>(work: impl std::future::Future<Output = T>) -> T {
    let work = std::pin::pin!(work);
    let timeout = std::pin::pin!(yunup::engine::Runtime::sleep(&yunup::runtime::web::WebRuntime, 60_000));
    match futures_util::future::select(work, timeout).await {
        futures_util::future::Either::Left((out, _)) => out,
        futures_util::future::Either::Right(_) => panic!("still waiting after a minute"),
    }
}

/// Copy, move and setDeadline from JS (the Rust crate and the CLI had them; the npm package did
/// not), with their arguments checked before anything is sent.
#[wasm_bindgen_test]
async fn copy_move_and_set_deadline() {
    let dir = format!("js-manage/{}/", js_sys::Date::now() as u64);
    let (original, copied, moved) = (format!("{dir}a.txt"), format!("{dir}b.txt"), format!("{dir}c.txt"));
    put(&original, b"copy me").await;
    let m = manager();
    let at = |key: &str| json(&format!(r#"{{"bucket":"public","key":"{key}"}}"#));
    let stat = |key: String| JsFuture::from(m.stat("public".into(), key.into()));

    JsFuture::from(m.copy(at(&original), at(&copied))).await.unwrap();
    for key in [&original, &copied] {
        assert_eq!(get(&stat(key.clone()).await.unwrap(), "hash").as_string().unwrap(), WcsEtag::digest(b"copy me"));
    }
    JsFuture::from(m.move_object(at(&copied), at(&moved))).await.unwrap();
    assert_eq!(get(&stat(copied.clone()).await.unwrap_err(), "status").as_f64(), Some(404.0), "moved away");
    assert_eq!(get(&stat(moved.clone()).await.unwrap(), "fsize").as_f64(), Some(7.0));

    // No deadline, then 3 days from the upload, then none again (-1: keep for ever).
    let expiry = |stat: JsValue| get(&stat, "expirationDate").as_string().unwrap_or_default();
    assert_eq!(expiry(stat(moved.clone()).await.unwrap()), "");
    JsFuture::from(m.set_deadline("public".into(), moved.as_str().into(), 3.0, None)).await.unwrap();
    let put_time = get(&stat(moved.clone()).await.unwrap(), "putTime").as_f64().unwrap();
    let in_three_days = js_sys::Date::new(&JsValue::from_f64(put_time + 3.0 * 86_400_000.0));
    let expected = in_three_days.to_iso_string().as_string().unwrap();
    let got = expiry(stat(moved.clone()).await.unwrap());
    assert_eq!(got, expected[..19].replace('T', " "), "three days after the upload, UTC");
    let options = json(r#"{"relevance":false}"#);
    JsFuture::from(m.set_deadline("public".into(), moved.as_str().into(), -1.0, Some(options))).await.unwrap();
    assert_eq!(expiry(stat(moved.clone()).await.unwrap()), "");

    let rejected = |promise: js_sys::Promise| async move { message_of(&JsFuture::from(promise).await.unwrap_err()) };
    // Days that are not a whole number, or below -1, would be truncated or refused by the
    // service; NaN would have been 0: delete.
    for days in [1.5, -2.0, f64::NAN, f64::INFINITY] {
        let message = rejected(m.set_deadline("public".into(), moved.as_str().into(), days, None)).await;
        assert!(message.contains("days must be a whole number of days"), "{days}: {message}");
    }
    let misspelt =
        rejected(m.set_deadline("public".into(), moved.as_str().into(), 1.0, Some(json(r#"{"relevant":true}"#))));
    assert!(misspelt.await.contains("unknown field `relevant`"));
    let not_bool =
        rejected(m.set_deadline("public".into(), moved.as_str().into(), 1.0, Some(json(r#"{"relevance":1}"#))));
    assert!(not_bool.await.contains("`relevance` must be true or false"));
    let no_key = rejected(m.copy(json(r#"{"bucket":"public"}"#), at(&copied))).await;
    assert!(no_key.contains("WcsManager.copy: `from`") && no_key.contains("`key` must be given"), "{no_key}");
    let not_object = rejected(m.move_object(at(&moved), "public:x".into())).await;
    assert!(not_object.contains("WcsManager.move: `to`") && not_object.contains("must be an object"), "{not_object}");
    let extra = rejected(m.copy(at(&moved), json(r#"{"bucket":"public","key":"x","overwrite":true}"#))).await;
    assert!(extra.contains("unknown field `overwrite`"), "{extra}");
    // The original is untouched by the refused calls.
    assert_eq!(get(&stat(moved.clone()).await.unwrap(), "fsize").as_f64(), Some(7.0));

    let buckets = JsFuture::from(m.buckets()).await.unwrap().unchecked_into::<Array>();
    let names: Vec<String> = buckets.iter().map(|b| get(&b, "name").as_string().unwrap()).collect();
    assert!(names.contains(&"public".to_owned()), "{names:?}");
}

/// UFile's listing from JS: pages in key order, passed on by `marker`, and directories with a
/// delimiter.
#[wasm_bindgen_test]
async fn a_ufile_listing_in_pages_and_by_directory() {
    let dir = format!("js-manage/{}/list/", js_sys::Date::now() as u64);
    let names = ["a.txt", "b.txt", "c.txt", "sub1/d.txt", "sub2/e/f.txt"];
    let mut m = None;
    for name in names {
        m = Some(private_ufile_with(&format!("{dir}{name}"), name.as_bytes()).await);
    }
    let m = m.unwrap();
    let mut keys = Vec::new();
    let mut marker = String::new();
    let mut pages = 0;
    loop {
        let query = json(&format!(r#"{{"prefix":"{dir}","limit":2,"marker":"{marker}"}}"#));
        let page = JsFuture::from(m.list(Some(query))).await.unwrap();
        pages += 1;
        for item in get(&page, "items").unchecked_into::<Array>().iter() {
            let key = get(&item, "key").as_string().unwrap();
            let name = key.strip_prefix(&dir).unwrap().to_owned();
            assert_eq!(get(&item, "size").as_f64(), Some(name.len() as f64), "{key}");
            keys.push(name);
        }
        let next = get(&page, "marker");
        if next.is_undefined() {
            break;
        }
        marker = next.as_string().expect("the marker is a string or undefined");
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(keys, names, "in key order");
    assert_eq!(pages, 3, "5 objects in pages of 2");

    let query = json(&format!(r#"{{"prefix":"{dir}","delimiter":"/"}}"#));
    let page = JsFuture::from(m.list(Some(query))).await.unwrap();
    let keys: Vec<String> =
        get(&page, "items").unchecked_into::<Array>().iter().map(|i| get(&i, "key").as_string().unwrap()).collect();
    let dirs: Vec<String> =
        get(&page, "commonPrefixes").unchecked_into::<Array>().iter().map(|p| p.as_string().unwrap()).collect();
    assert_eq!(keys, ["a.txt", "b.txt", "c.txt"].map(|n| format!("{dir}{n}")));
    assert_eq!(dirs, [format!("{dir}sub1/"), format!("{dir}sub2/")]);
    assert!(get(&page, "marker").is_undefined());

    let rejected = |promise: js_sys::Promise| async move { message_of(&JsFuture::from(promise).await.unwrap_err()) };
    assert!(rejected(m.list(Some(json(r#"{"limit":0}"#)))).await.contains("from 1 to 1000"));
    assert!(rejected(m.list(Some(json(r#"{"prefx":"a"}"#)))).await.contains("unknown field `prefx`"));
    assert!(rejected(m.list(Some(json(r#"{"prefix":5}"#)))).await.contains("`prefix` must be a string"));
    // No query: the bucket from its first key, 100 at most.
    let page = JsFuture::from(m.list(None)).await.unwrap();
    let count = get(&page, "items").unchecked_into::<Array>().length();
    assert!((1..=100).contains(&count), "{count} items");
    for name in names {
        JsFuture::from(m.delete(format!("{dir}{name}").into())).await.unwrap();
    }
    let page = JsFuture::from(m.list(Some(json(&format!(r#"{{"prefix":"{dir}"}}"#))))).await.unwrap();
    assert_eq!(get(&page, "items").unchecked_into::<Array>().length(), 0, "deleted");
}

/// Background jobs from JS (the crate and the CLI had them): an fmgr copy job and an fops job,
/// each waited for, their outputs checked in the bucket, then an fmgr delete job that removes
/// everything; `jobStatus` of a finished job.
#[wasm_bindgen_test]
async fn fmgr_and_fops_jobs_are_started_and_waited_for() {
    use base64::Engine as _;
    let dir = format!("js-jobs/{}/", js_sys::Date::now() as u64);
    let (a, b) = (format!("{dir}a.txt"), format!("{dir}b.txt"));
    put(&a, b"job a").await;
    put(&b, b"job bb").await;
    let m = manager();
    let stat = |key: &str| JsFuture::from(m.stat("public".into(), key.into()));
    let wait = |kind: &str, id: &JsValue| {
        JsFuture::from(m.wait_job(kind.into(), id.clone(), Some(json(r#"{"intervalMs":50}"#))))
    };
    let items = |status: &JsValue| get(status, "items").unchecked_into::<Array>();

    let tasks = json(&format!(
        r#"[{{"op":"copy","from":{{"bucket":"public","key":"{a}"}},"toBucket":"public","toKey":"{dir}a-copy.txt"}},
            {{"op":"copy","from":{{"bucket":"public","key":"{b}"}},"toBucket":"public","toKey":"{dir}b-copy.txt"}}]"#
    ));
    let id = JsFuture::from(m.fmgr(tasks, None)).await.unwrap();
    assert!(!id.as_string().unwrap().is_empty());
    let done = within_a_minute(wait("fmgr", &id)).await.unwrap();
    assert_eq!(get(&done, "state").as_string().as_deref(), Some("done"), "{done:?}");
    assert_eq!(get(&done, "finished").as_bool(), Some(true));
    assert_eq!(items(&done).length(), 2);
    assert!(items(&done).iter().all(|item| get(&item, "code").as_f64() == Some(3.0)), "{done:?}");
    assert_eq!(
        get(&stat(&format!("{dir}a-copy.txt")).await.unwrap(), "hash").as_string().unwrap(),
        WcsEtag::digest(b"job a")
    );
    assert_eq!(get(&stat(&format!("{dir}b-copy.txt")).await.unwrap(), "fsize").as_f64(), Some(6.0));
    let again = JsFuture::from(m.job_status("fmgr".into(), id.clone())).await.unwrap();
    assert_eq!(get(&again, "state").as_string().as_deref(), Some("done"));

    // The emulator writes a placeholder for a media command; what matters here is the job's path.
    let out = format!("{dir}a.mp4");
    let saveas = base64::engine::general_purpose::URL_SAFE.encode(format!("public:{out}"));
    let fops = format!("avthumb/mp4|saveas/{saveas}");
    let id = JsFuture::from(m.fops("public".into(), a.as_str().into(), fops.into(), Some(json(r#"{"force":true}"#))))
        .await
        .unwrap();
    let done = within_a_minute(wait("fops", &id)).await.unwrap();
    assert_eq!(get(&done, "state").as_string().as_deref(), Some("done"), "{done:?}");
    assert_eq!(get(&done, "inputkey").as_string(), Some(a.clone()));
    assert_eq!(get(&items(&done).get(0), "code").as_f64(), Some(3.0), "{done:?}");
    assert!(get(&stat(&out).await.unwrap(), "fsize").as_f64().unwrap() > 0.0);

    let keys = [a.clone(), b.clone(), format!("{dir}a-copy.txt"), format!("{dir}b-copy.txt"), out];
    let deletes: Vec<String> =
        keys.iter().map(|k| format!(r#"{{"op":"delete","bucket":"public","key":"{k}"}}"#)).collect();
    let id = JsFuture::from(m.fmgr(json(&format!("[{}]", deletes.join(","))), None)).await.unwrap();
    let done = within_a_minute(wait("fmgr", &id)).await.unwrap();
    assert_eq!(items(&done).length(), 5, "{done:?}");
    for key in &keys {
        assert_eq!(get(&stat(key).await.unwrap_err(), "status").as_f64(), Some(404.0), "{key} deleted");
    }
}

/// What a job call is given is checked before anything is sent, each with a message that names
/// the task and the field.
#[wasm_bindgen_test]
async fn job_arguments_are_checked() {
    let m = manager();
    let rejected = |promise: js_sys::Promise| async move { message_of(&JsFuture::from(promise).await.unwrap_err()) };
    let fmgr = |tasks: &str| rejected(m.fmgr(json(tasks), None));
    let delete = r#"{"op":"delete","bucket":"public","key":"k"}"#;
    let mixed = fmgr(&format!(r#"[{delete},{{"op":"deletePrefix","bucket":"public","prefix":"p/"}}]"#)).await;
    assert!(mixed.contains("one fmgr job runs one operation"), "{mixed}");
    assert!(fmgr("[]").await.contains("non-empty array"));
    assert!(fmgr(r#"{"op":"delete"}"#).await.contains("non-empty array"));
    let unknown = fmgr(r#"[{"op":"rename","bucket":"public"}]"#).await;
    assert!(unknown.contains("task 0") && unknown.contains("`op` must be one of fetch"), "{unknown}");
    let extra = fmgr(&format!(r#"[{delete},{{"op":"delete","bucket":"public","key":"k","force":1}}]"#)).await;
    assert!(extra.contains("task 1") && extra.contains("unknown field `force`"), "{extra}");
    let from = fmgr(r#"[{"op":"move","from":"public:a","toBucket":"public"}]"#).await;
    assert!(from.contains("`from` ({ bucket, key }) must be an object"), "{from}");
    let days = fmgr(r#"[{"op":"setDeadline","bucket":"public","days":1.5}]"#).await;
    assert!(days.contains("`days` must be a whole number"), "{days}");
    let zip = fmgr(r#"[{"op":"compress","bucket":"public","into":{"bucket":"public","key":"z.zip"}}]"#).await;
    assert!(zip.contains("or else `keyList`"), "{zip}");
    let zip =
        fmgr(r#"[{"op":"compress","bucket":"public","keys":["a",2],"into":{"bucket":"public","key":"z.zip"}}]"#).await;
    assert!(zip.contains("`keys` must be an array of strings"), "{zip}");
    let options = rejected(m.fmgr(json(&format!("[{delete}]")), Some(json(r#"{"notify":"http://x"}"#)))).await;
    assert!(options.contains("unknown field `notify`"), "{options}");
    let fops = rejected(m.fops("public".into(), "k".into(), 7.into(), None)).await;
    assert!(fops.contains("WcsManager.fops: the fops must be a string"), "{fops}");
    let kind = rejected(m.job_status("fmgrs".into(), "id".into())).await;
    assert!(kind.contains("the kind must be \"fmgr\" or \"fops\""), "{kind}");
    let interval = rejected(m.wait_job("fops".into(), "id".into(), Some(json(r#"{"intervalMs":5}"#)))).await;
    assert!(interval.contains("`intervalMs` must be at least 10"), "{interval}");
    let signal = JsWcsManager::new(credentials(), "http://127.0.0.1:2".into(), Some(json(r#"{"signal":true}"#)));
    assert!(message_of(&signal.err().unwrap()).contains("`signal` must be an AbortSignal"));
}

/// A manager's `signal` aborts its requests, and a `waitJob` in the middle of a long sleep
/// between polls (here 120 s) at once.
#[wasm_bindgen_test]
async fn a_managers_signal_aborts_its_calls_and_waits() {
    let controller = web_sys::AbortController::new().unwrap();
    let options = js_sys::Object::new();
    Reflect::set(&options, &"signal".into(), &controller.signal()).unwrap();
    let m = JsWcsManager::new(credentials(), env(option_env!("YUNUP_TEST_WCS")).into(), Some(options.into())).unwrap();
    let key = format!("js-jobs/{}/held.txt", js_sys::Date::now() as u64);
    put(&key, b"held").await;
    let task = json(&format!(r#"[{{"op":"delete","bucket":"public","key":"{key}"}}]"#));
    let id = JsFuture::from(m.fmgr(task, None)).await.unwrap();
    let waiting = JsFuture::from(m.wait_job("fmgr".into(), id, Some(json(r#"{"intervalMs":120000}"#))));
    let abort = async {
        yunup::engine::Runtime::sleep(&yunup::runtime::web::WebRuntime, 300).await;
        controller.abort();
    };
    let (waited, ()) = within_a_minute(futures_util::future::join(waiting, abort)).await;
    let err = waited.unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("aborted"), "{err:?}");
    // Later calls of this manager are aborted before they are sent.
    let err = JsFuture::from(m.stat("public".into(), key.as_str().into())).await.unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("aborted"), "{err:?}");
}

/// The Wantu manager, or `None` in a browser: browsers drop the `Date` header its requests are
/// signed with (a forbidden header name), so the constructor must refuse there, saying why.
fn wantu_at(credentials: JsValue, endpoint: &str) -> Option<JsWantuManager> {
    let made = JsWantuManager::new(credentials, endpoint.into(), "public".into(), None);
    if !Reflect::has(&js_sys::global(), &"document".into()).unwrap() {
        return Some(made.unwrap());
    }
    let message = message_of(&made.err().expect("a browser drops the Date header: the constructor must refuse"));
    assert!(message.contains("drops the Date header") && message.contains("Node or an edge worker"), "{message}");
    None
}

fn error_field(err: &JsValue, name: &str) -> JsValue {
    assert_eq!(get(err, "name").as_string().as_deref(), Some("YunupError"), "{err:?}");
    get(err, name)
}

/// The npm package had no Wantu management: a Node backend on Wantu had to sign and read the
/// manage API itself. Files by key, folders by path, listings page by page.
#[wasm_bindgen_test]
async fn wantu_files_and_folders() {
    let dir = format!("js-wantu/{}", js_sys::Date::now() as u64);
    let wantu_url = env(option_env!("YUNUP_TEST_WANTU"));
    for i in 0..5 {
        put_to("wantu", wantu_url, &format!("{dir}/f{i}.txt"), format!("wantu file {i}").as_bytes()).await;
    }
    let Some(m) = wantu_at(credentials(), wantu_url) else { return };
    let call = |p: js_sys::Promise| async move { JsFuture::from(p).await };

    assert_eq!(call(m.file_exists(format!("{dir}/f0.txt").into())).await.unwrap(), JsValue::TRUE);
    assert_eq!(call(m.file_exists(format!("{dir}/nope.txt").into())).await.unwrap(), JsValue::FALSE);
    let info = call(m.file_info(format!("/{dir}/f1.txt").into())).await.unwrap();
    assert_eq!(get(&info, "key").as_string(), Some(format!("{dir}/f1.txt")));
    assert_eq!(get(&info, "dir").as_string(), Some(format!("/{dir}")));
    assert_eq!(get(&info, "name").as_string().as_deref(), Some("f1.txt"));
    assert_eq!(get(&info, "fileSize").as_f64(), Some(12.0));
    assert_eq!(get(&info, "eTag").as_string(), Some(Md5::digest(b"wantu file 1").to_hex_upper()));
    assert!(get(&info, "meta").is_object(), "{info:?}");
    assert!(call(m.file_info(format!("{dir}/nope.txt").into())).await.unwrap().is_null());

    // Two files a page: three pages, walked by nextPage, every file once, by name.
    let (mut keys, mut page, mut pages) = (Vec::new(), Some(1.0), 0);
    while let Some(p) = page {
        let query = json(&format!(r#"{{"dir":"{dir}","page":{p},"pageSize":2}}"#));
        let reply = call(m.list_files(Some(query))).await.unwrap();
        assert_eq!(get(&reply, "page").as_f64(), Some(p));
        assert_eq!(get(&reply, "pageSize").as_f64(), Some(2.0));
        assert_eq!(get(&reply, "totalCount").as_f64(), Some(5.0));
        for item in get(&reply, "items").unchecked_into::<Array>().iter() {
            keys.push(get(&item, "key").as_string().unwrap());
        }
        page = get(&reply, "nextPage").as_f64();
        pages += 1;
        assert!(pages <= 3, "the listing does not end");
    }
    assert_eq!(keys, (0..5).map(|i| format!("{dir}/f{i}.txt")).collect::<Vec<_>>());

    // Folders: created with their parents, listed, refused while not empty.
    call(m.create_folder(format!("{dir}/sub/deeper").into())).await.unwrap();
    call(m.create_folder(format!("{dir}/sub").into())).await.expect("creating one that exists is not an error");
    assert_eq!(call(m.folder_exists(format!("/{dir}/sub/").into())).await.unwrap(), JsValue::TRUE);
    assert_eq!(call(m.folder_exists(format!("{dir}/none").into())).await.unwrap(), JsValue::FALSE);
    let folders = call(m.list_folders(Some(json(&format!(r#"{{"dir":"{dir}"}}"#))))).await.unwrap();
    let dirs: Vec<String> =
        get(&folders, "items").unchecked_into::<Array>().iter().map(|f| get(&f, "dir").as_string().unwrap()).collect();
    assert_eq!(dirs, [format!("/{dir}/sub")]);
    assert!(get(&folders, "nextPage").is_undefined(), "{folders:?}");
    let err = call(m.delete_folder(format!("{dir}/sub").into())).await.unwrap_err();
    assert_eq!(error_field(&err, "code").as_string().as_deref(), Some("DirNotEmpty"), "{err:?}");
    call(m.delete_folder(format!("{dir}/sub/deeper").into())).await.unwrap();
    call(m.delete_folder(format!("{dir}/sub").into())).await.unwrap();
    assert_eq!(call(m.folder_exists(format!("{dir}/sub").into())).await.unwrap(), JsValue::FALSE);

    // Rename into a new folder; onto a file that exists is refused and changes nothing.
    let moved = call(m.rename(format!("{dir}/f0.txt").into(), format!("{dir}/moved/g0.txt").into())).await.unwrap();
    assert_eq!(get(&moved, "key").as_string(), Some(format!("{dir}/moved/g0.txt")));
    assert_eq!(get(&moved, "eTag").as_string(), Some(Md5::digest(b"wantu file 0").to_hex_upper()));
    assert_eq!(call(m.file_exists(format!("{dir}/f0.txt").into())).await.unwrap(), JsValue::FALSE);
    let err = call(m.rename(format!("{dir}/f1.txt").into(), format!("{dir}/f2.txt").into())).await.unwrap_err();
    assert_eq!(error_field(&err, "status").as_f64(), Some(409.0), "{err:?}");
    let f2 = call(m.file_info(format!("{dir}/f2.txt").into())).await.unwrap();
    assert_eq!(get(&f2, "eTag").as_string(), Some(Md5::digest(b"wantu file 2").to_hex_upper()));
    let err = call(m.rename(format!("{dir}/nope").into(), format!("{dir}/x").into())).await.unwrap_err();
    assert_eq!(error_field(&err, "status").as_f64(), Some(404.0), "{err:?}");

    // Delete; a second time is the service's 404.
    call(m.delete_file(format!("{dir}/f1.txt").into())).await.unwrap();
    assert!(call(m.file_info(format!("{dir}/f1.txt").into())).await.unwrap().is_null());
    let err = call(m.delete_file(format!("{dir}/f1.txt").into())).await.unwrap_err();
    assert_eq!(error_field(&err, "status").as_f64(), Some(404.0), "{err:?}");
    assert_eq!(error_field(&err, "code").as_string().as_deref(), Some("NoSuchFile"), "{err:?}");
    let left = call(m.list_files(Some(json(&format!(r#"{{"dir":"/{dir}/"}}"#))))).await.unwrap();
    assert_eq!(get(&left, "totalCount").as_f64(), Some(3.0), "{left:?}");

    // The wrong secret: the service's refusal, as an auth error.
    let wrong = json(r#"{"accessKey":"test-ak","secretKey":"not-the-secret"}"#);
    let m2 = wantu_at(wrong, wantu_url).unwrap();
    let err = call(m2.file_exists(format!("{dir}/f2.txt").into())).await.unwrap_err();
    assert_eq!(error_field(&err, "kind").as_string().as_deref(), Some("auth"), "{err:?}");
}

#[wasm_bindgen_test]
async fn wantu_arguments_are_checked() {
    let creds = || json(r#"{"accessKey":"ak","secretKey":"sk"}"#);
    // Arguments are checked before the platform, so these hold in browsers too.
    let err = JsWantuManager::new(creds(), "http://h".into(), " ".into(), None).err().unwrap();
    assert!(message_of(&err).contains("the namespace is empty"), "{err:?}");
    let err = JsWantuManager::new(creds(), "http://h".into(), 3.into(), None).err().unwrap();
    assert!(message_of(&err).contains("the namespace must be a string, not number"), "{err:?}");
    let err = JsWantuManager::new(creds(), "ftp://h".into(), "ns".into(), None).err().unwrap();
    assert!(message_of(&err).contains("is not an http:// or https:// URL"), "{err:?}");

    // Port 2: nothing is listening, so only a refusal before sending passes these.
    let Some(m) = wantu_at(creds(), "http://127.0.0.1:2") else { return };
    let rejected = |promise: js_sys::Promise| async move { message_of(&JsFuture::from(promise).await.unwrap_err()) };
    assert!(rejected(m.file_info(42.into())).await.contains("WantuManager.fileInfo: the key must be a string"));
    assert!(rejected(m.file_exists("dir/".into())).await.contains("names no file"));
    assert!(rejected(m.rename("a".into(), JsValue::NULL)).await.contains("WantuManager.rename: to must be a string"));
    assert!(rejected(m.create_folder("a//b".into())).await.contains("is not a folder path"));
    let query = |text: &str| Some(json(text));
    assert!(rejected(m.list_files(query(r#"{"pageSize":0}"#))).await.contains("`pageSize` must be from 1 to 1000"));
    assert!(rejected(m.list_files(query(r#"{"pageSize":1001}"#))).await.contains("from 1 to 1000"));
    assert!(rejected(m.list_folders(query(r#"{"page":0}"#))).await.contains("`page` must be at least 1"));
    assert!(rejected(m.list_folders(query(r#"{"page":1.5}"#))).await.contains("a non-negative integer"));
    let misspelt = rejected(m.list_files(query(r#"{"directory":"a"}"#))).await;
    assert!(misspelt.contains("unknown field `directory` (known: dir, page, pageSize)"), "{misspelt}");
    assert!(rejected(m.list_files(query(r#"{"dir":7}"#))).await.contains("`dir` must be a string"));
}
