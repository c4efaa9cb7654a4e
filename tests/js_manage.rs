//! Management from wasm (an edge worker's view) against a real emulator, in Node and Chromium:
//! list with paging, stat, delete. Run through scripts/with-emulator.sh (make test does).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use yunup::hash::{Hasher, WcsEtag};
use yunup::js::{JsUploader, JsWcsManager};

fn env(value: Option<&'static str>) -> &'static str {
    value.expect("run these tests through scripts/with-emulator.sh (make test does): no emulator URL was set")
}

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

fn get(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).unwrap()
}

fn manager() -> JsWcsManager {
    let creds = format!(
        r#"{{"accessKey":"{}","secretKey":"{}"}}"#,
        env(option_env!("YUNUP_TEST_AK")),
        env(option_env!("YUNUP_TEST_SK"))
    );
    JsWcsManager::new(json(&creds), env(option_env!("YUNUP_TEST_WCS"))).unwrap()
}

async fn put(key: &str, bytes: &[u8]) {
    let config = format!(
        r#"{{"service":"wcs","endpoint":"{}","bucket":"public","tokenUrl":"{}"}}"#,
        env(option_env!("YUNUP_TEST_WCS")),
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
        let page = JsFuture::from(m.list(query).unwrap()).await.unwrap();
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

    let stat = JsFuture::from(m.stat("public".into(), format!("{prefix}f3.txt"))).await.unwrap();
    assert_eq!(get(&stat, "fsize").as_f64(), Some(6.0));
    assert_eq!(get(&stat, "hash").as_string().unwrap(), WcsEtag::digest(b"file 3"));

    JsFuture::from(m.delete("public".into(), format!("{prefix}f3.txt"))).await.unwrap();
    let err = JsFuture::from(m.stat("public".into(), format!("{prefix}f3.txt"))).await.unwrap_err();
    assert_eq!(get(&err, "name").as_string().as_deref(), Some("YunupError"));
    assert_eq!(get(&err, "status").as_f64(), Some(404.0));

    // Wrong secret: a clear auth error, the secret nowhere in it.
    let bad = JsWcsManager::new(
        json(r#"{"accessKey":"test-ak","secretKey":"not-the-secret"}"#),
        env(option_env!("YUNUP_TEST_WCS")),
    )
    .unwrap();
    let err = JsFuture::from(bad.stat("public".into(), format!("{prefix}f1.txt"))).await.unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("auth"));
    assert!(!get(&err, "message").as_string().unwrap().contains("not-the-secret"));
}

#[wasm_bindgen_test]
async fn private_download_with_a_range_head_and_delete() {
    use yunup::engine::Transport;
    use yunup::js::JsUfileManager;
    use yunup::runtime::web::FetchTransport;
    use yunup::service::{HttpRequest, Method};
    let ufile = env(option_env!("YUNUP_TEST_UFILE"));
    let key = format!("js-manage/{}/private.bin", js_sys::Date::now() as u64);
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    // Upload into the private bucket.
    let config = format!(
        r#"{{"service":"ufile","endpoint":"{ufile}/secret","bucket":"secret","tokenUrl":"{}"}}"#,
        env(option_env!("YUNUP_TEST_DEMO"))
    );
    let options = js_sys::Object::new();
    Reflect::set(&options, &"key".into(), &key.as_str().into()).unwrap();
    let task =
        JsUploader::new(json(&config)).unwrap().upload(Uint8Array::from(&bytes[..]).into(), options.into()).unwrap();
    JsFuture::from(task.done()).await.unwrap();

    let creds = format!(
        r#"{{"accessKey":"{}","secretKey":"{}"}}"#,
        env(option_env!("YUNUP_TEST_AK")),
        env(option_env!("YUNUP_TEST_SK"))
    );
    let m = JsUfileManager::new(json(&creds), format!("{ufile}/secret"), "secret".into()).unwrap();
    // Unsigned: refused. Presigned, with a Range: 206 and exactly those bytes.
    let plain =
        FetchTransport::default().send(HttpRequest::new(Method::Get, format!("{ufile}/secret/{key}"))).await.unwrap();
    assert_eq!(plain.status, 403);
    // Lifetimes that are not a whole number of seconds are refused, not wrapped (-1 was 136 years).
    for bad in [-1.0, 0.0, 1.5, f64::NAN, 1e300] {
        assert!(m.private_url(&key, bad).is_err(), "{bad}");
    }
    let url = m.private_url(&key, 600.0).unwrap();
    let ranged = FetchTransport::default()
        .send(HttpRequest::new(Method::Get, url).header("Range", "bytes=10-19"))
        .await
        .unwrap();
    assert_eq!(ranged.status, 206);
    assert_eq!(&ranged.body[..], &bytes[10..20]);
    // The manager's own ranged read.
    let chunk = JsFuture::from(m.fetch_range(key.clone(), 99_990.0, None)).await.unwrap();
    assert_eq!(get(&chunk, "total").as_f64(), Some(100_000.0));
    let data: Uint8Array = get(&chunk, "data").unchecked_into();
    assert_eq!(data.to_vec(), bytes[99_990..]);
    // `Infinity` reads to the end; negative, fractional and NaN offsets are refused, not cast to 0.
    let chunk = JsFuture::from(m.fetch_range(key.clone(), 99_990.0, Some(f64::INFINITY))).await.unwrap();
    assert_eq!(get(&chunk, "data").unchecked_into::<Uint8Array>().to_vec(), bytes[99_990..]);
    for (start, end) in [(-100.0, None), (0.0, Some(-1.0)), (f64::NAN, None), (1.5, None), (5.0, Some(4.0))] {
        let err = JsFuture::from(m.fetch_range(key.clone(), start, end)).await.unwrap_err();
        let message = format!("{err:?}");
        assert!(message.contains("fetchRange") || message.contains("ends before"), "{start} {end:?}: {message}");
    }
    let head = JsFuture::from(m.head(key.clone())).await.unwrap();
    assert_eq!(get(&head, "size").as_f64(), Some(100_000.0));
    JsFuture::from(m.delete(key.clone())).await.unwrap();
    assert!(JsFuture::from(m.head(key)).await.unwrap().is_null());
}
