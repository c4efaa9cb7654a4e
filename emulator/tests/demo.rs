//! The demo host: token backend, signing policy, fault switch, static files.

mod common;

use common::{AK, Emulator, SK, temp_data_dir};
use yunup::sign::{Credentials, ufile, wantu, wcs};

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::test]
async fn token_backend_mints_tokens_that_verify() {
    let emu = Emulator::fresh("demo-tokens", &[]);
    let http = reqwest::Client::new();
    let creds = Credentials::new(AK, SK);

    let r: serde_json::Value = http
        .get(format!("{}/api/token/wcs?bucket=public&key=a.txt&expiresIn=600", emu.demo))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["token"].as_str().unwrap();
    let verified = wcs::verify_upload_token(token, &creds, now_ms()).unwrap();
    assert_eq!(verified.policy.scope, "public:a.txt");
    assert!(verified.policy.deadline.unwrap() <= now_ms() + 600_000);

    let r: serde_json::Value = http
        .get(format!("{}/api/token/wantu?namespace=public&dir=/d&name=x.bin", emu.demo))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verified = wantu::verify_upload_token(r["token"].as_str().unwrap(), &creds, now_ms()).unwrap();
    assert_eq!(verified.policy.namespace.as_deref(), Some("public"));

    // The UFile JS SDK's request: the reply is the bare Authorization text.
    let auth = http
        .get(format!(
            "{}/api/token/ufile?method=PUT&bucket=public&key=dir%2Fa%20b.txt&content_md5=&content_type=image/svg%2Bxml&date=",
            emu.demo
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let request = ufile::SignRequest {
        method: "PUT".into(),
        bucket: "public".into(),
        key: "dir/a b.txt".into(),
        content_type: "image/svg+xml".into(),
        ..Default::default()
    };
    assert_eq!(auth, ufile::authorization(&creds, &request).unwrap());

    // applyAuth JSON shape of the mobile SDKs.
    let auth2 = http
        .post(format!("{}/applyAuth", emu.demo))
        .body(r#"{"method":"PUT","bucket":"public","key":"dir/a b.txt","content_type":"image/svg+xml"}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(auth2, auth);
}

#[tokio::test]
async fn the_backend_refuses_what_its_policy_does_not_allow() {
    let emu = Emulator::fresh("demo-policy", &[]);
    let http = reqwest::Client::new();
    for url in [
        format!("{}/api/token/wcs?bucket=nope", emu.demo),
        format!("{}/api/token/wantu?namespace=nope", emu.demo),
        format!("{}/api/token/ufile?method=PUT&bucket=nope&key=k", emu.demo),
    ] {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 403, "{url}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("nope"), "{body}");
    }
    let r = http.get(format!("{}/api/token/wcs?bucket=public&expiresIn=999999", emu.demo)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(format!("{}/applyPrivateUrlAuth", emu.demo))
        .body(format!(r#"{{"method":"GET","bucket":"secret","key":"k","expires":{}}}"#, now_ms() / 1000 + 10 * 86_400))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a presigned URL beyond the longest lifetime is refused");
    let r = http.get(format!("{}/api/token/ufile?method=PATCH&bucket=public&key=k", emu.demo)).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn faults_switch_on_and_off_at_run_time() {
    let emu = Emulator::fresh("demo-faults", &[]);
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{}/admin/faults", emu.demo))
        .body(r#"{"seed":1,"errorRate":1.0,"errorStatuses":[503]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Each service's errors in its own shape (JSON with its fields, its request-id header), so
    // that official SDKs take them as the service's; a 4 MiB body is read first, so the client
    // gets the error, not a reset connection.
    let shapes = [
        (&emu.wcs, "message", Some("x-reqid")),
        (&emu.ufile, "ErrMsg", Some("x-sessionid")),
        (&emu.wantu, "requestId", None),
    ];
    for (base, field, id_header) in shapes {
        let r = http.post(format!("{base}/anything")).body(vec![1u8; 4 << 20]).send().await.unwrap();
        assert_eq!(r.status(), 503, "{base}");
        assert!(r.headers().contains_key("access-control-allow-origin"), "injected errors carry CORS headers");
        assert!(id_header.is_none_or(|h| r.headers().contains_key(h)), "{base}: {id_header:?}");
        // (Wantu's own errors say `application/json;charset=UTF-8`.)
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("application/json"), "{base}: {content_type}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body.get(field).is_some(), "{base}: {body}");
    }
    let r = http.put(format!("{}/admin/faults", emu.demo)).body(r#"{"errorRate":2}"#).send().await.unwrap();
    assert_eq!(r.status(), 400);
    http.put(format!("{}/admin/faults", emu.demo)).body("{}").send().await.unwrap();
    let r = http.get(format!("{}/anything", emu.wcs)).send().await.unwrap();
    assert_ne!(r.status(), 503);
    let config: serde_json::Value =
        http.get(format!("{}/admin/faults", emu.demo)).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["errorRate"], 0.0);
}

#[tokio::test]
async fn truncated_replies_and_resets_break_the_connection() {
    let emu = Emulator::fresh("demo-reset", &[r#"--faults={"resetRate":1.0,"services":["wcs"]}"#]);
    let http = reqwest::Client::new();
    let err = http.post(format!("{}/file/upload", emu.wcs)).body(vec![0u8; 100_000]).send().await.unwrap_err();
    assert!(err.is_request() || err.is_connect() || err.to_string().contains("connection"), "{err}");
}

#[tokio::test]
async fn serves_the_page_and_the_package() {
    let data = temp_data_dir("demo-static");
    let www = data.join("www");
    let pkg = data.join("pkg");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<h1>yunup demo</h1>").unwrap();
    std::fs::write(pkg.join("yunup.js"), "export {}").unwrap();
    let emu = Emulator::start(&data, &["--www", www.to_str().unwrap(), "--pkg", pkg.to_str().unwrap()]);
    let page = reqwest::get(format!("{}/", emu.demo)).await.unwrap().text().await.unwrap();
    assert!(page.contains("yunup demo"));
    let js = reqwest::get(format!("{}/pkg/yunup.js", emu.demo)).await.unwrap();
    assert_eq!(js.status(), 200);
    let config: serde_json::Value =
        reqwest::get(format!("{}/api/config", emu.demo)).await.unwrap().json().await.unwrap();
    assert_eq!(config["wcs"]["upload"], emu.wcs.as_str());
    assert_eq!(config["ufile"]["buckets"][1]["name"], "secret");
    assert_eq!(config["ufile"]["buckets"][1]["private"], true);
}

#[tokio::test]
async fn recent_requests_can_be_counted() {
    let emu = Emulator::fresh("demo-requests", &[]);
    let before: serde_json::Value =
        reqwest::get(format!("{}/admin/requests", emu.demo)).await.unwrap().json().await.unwrap();
    let since = before["last"].as_u64().unwrap();
    reqwest::get(format!("{}/public/missing?x=1", emu.ufile)).await.unwrap();
    let after: serde_json::Value =
        reqwest::get(format!("{}/admin/requests?since={since}", emu.demo)).await.unwrap().json().await.unwrap();
    // The demo host's own requests (token fetches, this query) are logged too, as "demo".
    let requests: Vec<_> = after["requests"].as_array().unwrap().iter().filter(|r| r["service"] != "demo").collect();
    assert_eq!(requests.len(), 1, "{after}");
    assert_eq!(requests[0]["service"], "ufile");
    assert_eq!(requests[0]["target"], "/public/missing?x=1");
    assert_eq!(requests[0]["status"], 404);
}
