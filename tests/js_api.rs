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
    let wcs = js::etag(blob.clone().into(), "wcs".into()).await.unwrap();
    assert_eq!(wcs.as_string().unwrap(), WcsEtag::digest(&data));
    assert!(wcs.as_string().unwrap().starts_with('l'), "more than one block gives the 0x96 prefix");
    let ufile = js::etag(blob.into(), "ufile".into()).await.unwrap();
    assert_eq!(ufile.as_string().unwrap(), UfileEtag::digest(&data));
    // Whole blocks only (the stream ends right after a full block), and one byte.
    for len in [8 * 1024 * 1024, 1] {
        let wcs = js::etag(blob_of(&data[..len]).into(), "wcs".into()).await.unwrap();
        assert_eq!(wcs.as_string().unwrap(), WcsEtag::digest(&data[..len]), "{len} bytes");
    }
}

#[wasm_bindgen_test]
async fn etag_of_an_empty_blob_and_an_unknown_kind() {
    let empty = blob_of(&[]);
    assert_eq!(js::etag(empty.clone().into(), "wcs".into()).await.unwrap(), "Fto5o-5ea0sNMlW_75VgGJCv2AcJ");
    let err = js::etag(empty.into(), "sha256".into()).await.unwrap_err();
    assert_eq!(field(&err, "name"), "YunupError");
    assert_eq!(field(&err, "kind"), "invalid-input");
}

fn bytes(data: &[u8]) -> JsValue {
    Uint8Array::from(data).into()
}

#[wasm_bindgen_test]
fn one_shot_and_incremental_hashers_agree() {
    let hello = || bytes(b"hello world");
    assert_eq!(js::md5_hex(hello(), None).unwrap(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(js::md5_hex(hello(), Some(true)).unwrap(), "5EB63BBBE01EEED093CB22BB8F5ACDC3");
    assert_eq!(js::sha1_hex(hello()).unwrap(), "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
    assert_eq!(js::crc32(hello()).unwrap(), 222957957);
    assert_eq!(js::wcs_etag(hello()).unwrap(), "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
    assert_eq!(js::ufile_etag(bytes(b"hello")).unwrap(), "AQAAAKr0xh3cxeii2r7eDztILNmuqUNN");

    let mut md5 = js::JsMd5::new();
    md5.update(bytes(b"hello ")).unwrap();
    let mid = md5.digest();
    md5.update(bytes(b"world")).unwrap();
    assert_eq!(mid, js::md5_hex(bytes(b"hello "), None).unwrap(), "digest() does not end the hasher");
    assert_eq!(md5.digest(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
}

/// Every kind of data a caller may reasonably pass is hashed as its bytes (wasm-bindgen's own
/// `&[u8]` glue hashed a string as zero bytes and an `ArrayBuffer` as nothing), and anything
/// else is a `YunupError`, from the one-shot functions, the hashers' `update` and `etag`.
#[wasm_bindgen_test]
async fn hashing_takes_buffers_views_and_strings_and_refuses_the_rest() {
    let md5_of_hello_world = "5eb63bbbe01eeed093cb22bb8f5acdc3";
    let padded = Uint8Array::from(&b"__hello world__"[..]);
    let view = |ctor: &str| -> JsValue {
        let make = js_sys::Function::new_with_args(
            "b, name",
            "return new globalThis[name](b.buffer, 2, 11 / (globalThis[name].BYTES_PER_ELEMENT || 1))",
        );
        make.call2(&JsValue::NULL, &padded, &ctor.into()).unwrap()
    };
    let buffer = Uint8Array::from(&b"hello world"[..]).buffer();
    let cases: Vec<(&str, JsValue)> = vec![
        ("a Uint8Array", bytes(b"hello world")),
        ("a subarray", padded.subarray(2, 13).into()),
        ("a DataView", view("DataView")),
        ("an Int8Array view", view("Int8Array")),
        ("an ArrayBuffer", buffer.into()),
        ("a string (UTF-8)", "hello world".into()),
        ("an array of bytes", js_sys::Array::from(&Uint8Array::from(&b"hello world"[..])).into()),
    ];
    for (what, data) in cases {
        assert_eq!(js::md5_hex(data.clone(), None).unwrap(), md5_of_hello_world, "{what}");
        let mut hasher = js::JsMd5::new();
        hasher.update(data.clone()).unwrap();
        assert_eq!(hasher.digest(), md5_of_hello_world, "{what}, incremental");
        let etag = js::etag(data, "wcs".into()).await.unwrap();
        assert_eq!(etag, "FiqubDXJT8-0FdvpX0CLnOke6Ebt", "{what}, etag");
    }
    assert_eq!(js::sha1_hex("中".into()).unwrap(), yunup::hash::Sha1::digest("中".as_bytes()).to_hex());

    let refused: Vec<(&str, JsValue)> = vec![
        ("null", JsValue::NULL),
        ("undefined", JsValue::UNDEFINED),
        ("a number", 3.into()),
        ("an object", json(r#"{"length":3}"#)),
        ("an array of non-bytes", json("[1, 256]")),
    ];
    for (what, data) in refused {
        for err in [
            js::md5_hex(data.clone(), None).unwrap_err(),
            js::JsSha1::new().update(data.clone()).unwrap_err(),
            js::etag(data.clone(), "ufile".into()).await.unwrap_err(),
        ] {
            assert_eq!(
                (field(&err, "name"), field(&err, "kind")),
                ("YunupError".into(), "invalid-input".into()),
                "{what}"
            );
        }
    }
    let err = js::etag(bytes(b"x"), JsValue::UNDEFINED).await.unwrap_err();
    assert_eq!(field(&err, "kind"), "invalid-input");
    let message = field(&err, "message").as_string().unwrap();
    assert!(message.contains(r#""wcs" or "ufile", not undefined"#), "{message}");
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

/// The two mistakes that used to give a token that every upload with it was refused, or one
/// without a limit the caller asked for: a deadline in seconds, a misspelt field.
#[wasm_bindgen_test]
fn token_policies_in_seconds_or_with_unknown_fields_are_refused() {
    let creds = || json(r#"{"accessKey":"ak","secretKey":"sk"}"#);
    let message = |err: JsValue| {
        assert_eq!(field(&err, "kind"), "invalid-input");
        field(&err, "message").as_string().unwrap()
    };
    let wcs = |policy: &str| js::JsWcs::upload_token(creds(), json(policy));
    let wantu = |policy: &str| js::JsWantu::upload_token(creds(), json(policy));

    let err = message(wcs(r#"{"scope":"b","deadline":1700000000}"#).unwrap_err());
    assert!(err.contains("`deadline` 1700000000") && err.contains("milliseconds, not seconds"), "{err}");
    let err = message(wantu(r#"{"namespace":"n","expiration":1700000000}"#).unwrap_err());
    assert!(err.contains("`expiration` 1700000000") && err.contains("1700000000000 ms"), "{err}");
    assert!(message(wantu(r#"{"namespace":"n","expiration":-5}"#).unwrap_err()).contains("`expiration` -5"));

    let err = message(wcs(r#"{"scope":"b","fsizelimit":5}"#).unwrap_err());
    assert!(err.contains("unknown field `fsizelimit`") && err.contains("fsizeLimit"), "{err}");
    let err = message(wantu(r#"{"namespace":"n","sizelimit":5}"#).unwrap_err());
    assert!(err.contains("unknown field `sizelimit`") && err.contains("sizeLimit"), "{err}");

    // What stays allowed: every field spelt right, a deadline just past (tests of expiry mint
    // such tokens), a Wantu token that never expires.
    let just_past = js_sys::Date::now() - 60_000.0;
    wcs(&format!(r#"{{"scope":"b","deadline":{just_past},"fsizeLimit":5,"detectNotifyURL":"http://x/"}}"#)).unwrap();
    wantu(r#"{"namespace":"n","expiration":-1,"sizeLimit":5,"callbackBodyType":"json"}"#).unwrap();
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

/// The body is signed as the bytes sent: a string as its UTF-8, an `ArrayBuffer` or a view as
/// its bytes. (`Option<Vec<u8>>` signed a string as that many zero bytes and an `ArrayBuffer`
/// as nothing, so the service refused the token.)
#[wasm_bindgen_test]
fn wcs_management_token_signs_the_body_that_is_sent() {
    use yunup::sign::{Credentials, wcs::management_token};
    let creds = || json(r#"{"accessKey":"ak","secretKey":"sk"}"#);
    let expected = management_token(&Credentials::new("ak", "sk"), "/fmgr/fetch", b"fops=x&notifyURL=y");
    let token = |body: Option<JsValue>| js::JsWcs::management_token(creds(), "/fmgr/fetch".into(), body);
    assert_eq!(token(Some("fops=x&notifyURL=y".into())).unwrap(), expected);
    assert_eq!(token(Some(bytes(b"fops=x&notifyURL=y"))).unwrap(), expected);
    let buffer = js_sys::Uint8Array::from(&b"fops=x&notifyURL=y"[..]).buffer();
    assert_eq!(token(Some(buffer.into())).unwrap(), expected);
    let empty = management_token(&Credentials::new("ak", "sk"), "/fmgr/fetch", b"");
    for none in [None, Some(JsValue::NULL), Some(JsValue::UNDEFINED)] {
        assert_eq!(token(none).unwrap(), empty);
    }
    let err = token(Some(42.into())).unwrap_err();
    assert_eq!(field(&err, "kind"), "invalid-input");
    let err = js::JsWcs::management_token(creds(), 5.into(), None).unwrap_err();
    let message = field(&err, "message").as_string().unwrap();
    assert!(message.contains("pathAndQuery must be a string, not number"), "{message}");
}
