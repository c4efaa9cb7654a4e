//! The JavaScript surface, run as wasm in Node (`wasm-pack test --node`) and in headless Chromium
//! (`WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome`).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::Blob;
use yunup::hash::{Hasher, UfileEtag, WcsEtag};
use yunup::js;

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap()
}

/// A Blob made of several parts, larger than one 4 MiB etag block.
fn blob_of(data: &[u8]) -> Blob {
    let parts = Array::new();
    for chunk in data.chunks(3 * 1024 * 1024 + 11) {
        parts.push(&Uint8Array::from(chunk));
    }
    Blob::new_with_u8_array_sequence(&parts).unwrap()
}

#[wasm_bindgen_test]
async fn etag_of_a_blob_larger_than_one_block_reads_slices() {
    let data: Vec<u8> = (0..(9 * 1024 * 1024 + 3)).map(|i| (i % 253) as u8).collect();
    let blob = blob_of(&data);
    let wcs = js::etag(blob.clone(), "wcs".into()).await.unwrap();
    assert_eq!(wcs.as_string().unwrap(), WcsEtag::digest(&data));
    assert!(wcs.as_string().unwrap().starts_with('l'), "more than one block gives the 0x96 prefix");
    let ufile = js::etag(blob, "ufile".into()).await.unwrap();
    assert_eq!(ufile.as_string().unwrap(), UfileEtag::digest(&data));
    // Whole blocks only (the stream ends right after a full block), and one byte.
    for len in [8 * 1024 * 1024, 1] {
        let wcs = js::etag(blob_of(&data[..len]), "wcs".into()).await.unwrap();
        assert_eq!(wcs.as_string().unwrap(), WcsEtag::digest(&data[..len]), "{len} bytes");
    }
}

#[wasm_bindgen_test]
async fn etag_of_an_empty_blob_and_an_unknown_kind() {
    let empty = blob_of(&[]);
    assert_eq!(js::etag(empty.clone(), "wcs".into()).await.unwrap(), "Fto5o-5ea0sNMlW_75VgGJCv2AcJ");
    let err = js::etag(empty, "sha256".into()).await.unwrap_err();
    assert_eq!(field(&err, "name"), "YunupError");
    assert_eq!(field(&err, "kind"), "invalid-input");
}

#[wasm_bindgen_test]
fn one_shot_and_incremental_hashers_agree() {
    assert_eq!(js::md5_hex(b"hello world", None), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(js::md5_hex(b"hello world", Some(true)), "5EB63BBBE01EEED093CB22BB8F5ACDC3");
    assert_eq!(js::sha1_hex(b"hello world"), "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
    assert_eq!(js::crc32(b"hello world"), 222957957);
    assert_eq!(js::wcs_etag(b"hello world"), "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
    assert_eq!(js::ufile_etag(b"hello"), "AQAAAKr0xh3cxeii2r7eDztILNmuqUNN");

    let mut md5 = js::JsMd5::new();
    md5.update(b"hello ");
    let mid = md5.digest();
    md5.update(b"world");
    assert_eq!(mid, js::md5_hex(b"hello ", None), "digest() does not end the hasher");
    assert_eq!(md5.digest(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
}

#[wasm_bindgen_test]
fn wcs_upload_token_matches_the_spec_vector() {
    let token = js::JsWcs::upload_token(
        json(r#"{"accessKey":"ak-example","secretKey":"sk-example"}"#),
        json(r#"{"scope":"mybucket:a.txt","deadline":1893427200000}"#),
    )
    .unwrap();
    assert_eq!(
        token,
        "ak-example:OTg4NDBhZDUwYzZjZDdiNDYzNzJlM2I3ZjBmYWViZGJiNmRlMDZiNg==:eyJzY29wZSI6Im15YnVja2V0OmEudHh0IiwiZGVhZGxpbmUiOiIxODkzNDI3MjAwMDAwIn0="
    );
}

#[wasm_bindgen_test]
fn wcs_upload_token_defaults_to_one_hour_and_refuses_bad_input() {
    let creds = r#"{"accessKey":"ak","secretKey":"sk"}"#;
    let token = js::JsWcs::upload_token(json(creds), json(r#"{"scope":"b"}"#)).unwrap();
    let now = js_sys::Date::now() as u64;
    let verified =
        yunup::sign::wcs::verify_upload_token(&token, &yunup::sign::Credentials::new("ak", "sk"), now).unwrap();
    let deadline = verified.policy.deadline.unwrap();
    assert!(deadline > now + 3_500_000 && deadline <= now + 3_600_000 + 1000, "{deadline} vs {now}");

    let err = js::JsWcs::upload_token(json(creds), json(r#"{"deadline":1}"#)).unwrap_err();
    assert_eq!(field(&err, "kind"), "invalid-input");
    let err = js::JsWcs::upload_token(json(r#"{"accessKey":"ak"}"#), json(r#"{"scope":"b"}"#)).unwrap_err();
    assert_eq!(field(&err, "kind"), "invalid-input");
    assert!(!format!("{:?}", field(&err, "message")).contains("sk"));
    // A secret of the wrong type is not quoted back (serde's message would say "invalid type:
    // floating point `271828182845`").
    let err = js::JsWcs::upload_token(json(r#"{"accessKey":"ak","secretKey":271828182845}"#), json(r#"{"scope":"b"}"#))
        .unwrap_err();
    assert_eq!(field(&err, "kind"), "invalid-input");
    let message = format!("{:?}", field(&err, "message"));
    assert!(message.contains("accessKey, secretKey") && !message.contains("271828182845"), "{message}");
}

#[wasm_bindgen_test]
fn ufile_sign_matches_the_spec_vector() {
    let auth = js::JsUfile::sign(
        json(r#"{"accessKey":"pub","secretKey":"test-private-key"}"#),
        json(r#"{"method":"PUT","bucket":"demobucket","key":"demokey","contentType":"image/jpeg"}"#),
    )
    .unwrap();
    assert_eq!(auth, "UCloud pub:k0ft/BmcNWgSWSxGRhSq7VikWLI=");
}

#[wasm_bindgen_test]
fn wantu_upload_token_matches_the_spec_vector() {
    let token = js::JsWantu::upload_token(
        json(r#"{"accessKey":"23000000","secretKey":"0123456789abcdef0123456789abcdef"}"#),
        json(r#"{"namespace":"test","expiration":-1,"insertOnly":0,"detectMime":1}"#),
    )
    .unwrap();
    assert!(token.starts_with("UPLOAD_AK_TOP "), "{token}");
    let verified = yunup::sign::wantu::verify_upload_token(
        &token,
        &yunup::sign::Credentials::new("23000000", "0123456789abcdef0123456789abcdef"),
        0,
    )
    .unwrap();
    assert_eq!(verified.policy.namespace.as_deref(), Some("test"));
}
