//! The upload engine, natively (reqwest), end to end against a real emulator: every service,
//! the sizes around the part boundary, odd keys, faults, resume, token expiry.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{AK, Emulator, SK, temp_data_dir};
use yunup::ErrorKind;
use yunup::engine::{
    BytesSource, CheckpointStore, Control, LocalSigner, MemoryCheckpoints, NoCheckpoints, RetryPolicy, Runtime, Target,
    TokenProvider, Transport, UploadOptions, Uploader,
};
use yunup::hash::{Hasher, Md5, UfileEtag, WcsEtag};
use yunup::runtime::native::{BackendTokens, ReqwestTransport, TokioRuntime};
use yunup::service::{ServiceKind, UploadResult};
use yunup::sign::Credentials;
use yunup::sign::ufile::SignRequest;

const MIB: usize = 1024 * 1024;
const SERVICES: [ServiceKind; 3] = [ServiceKind::Wcs, ServiceKind::Ufile, ServiceKind::Wantu];

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[i % 4] ^ seed).collect()
}

fn target(emu: &Emulator, service: ServiceKind, key: &str) -> Target {
    let endpoint = match service {
        ServiceKind::Wcs => emu.wcs.clone(),
        ServiceKind::Ufile => format!("{}/public", emu.ufile),
        ServiceKind::Wantu => emu.wantu.clone(),
    };
    Target { service, endpoint, bucket: "public".into(), key: key.into(), mime: String::new() }
}

/// The service's download URL of an object in bucket (or namespace) `public`.
fn object_url(emu: &Emulator, service: ServiceKind, key: &str) -> String {
    let base = match service {
        ServiceKind::Wcs => &emu.wcs,
        ServiceKind::Ufile => &emu.ufile,
        ServiceKind::Wantu => &emu.wantu,
    };
    format!("{base}/public/{}", yunup::encoding::percent_encode(key, true))
}

/// Read an object back through the service's download route.
async fn read_back(emu: &Emulator, service: ServiceKind, key: &str) -> Vec<u8> {
    let url = object_url(emu, service, key);
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.bytes().await.unwrap().to_vec()
}

fn expected_etag(service: ServiceKind, bytes: &[u8]) -> String {
    match service {
        ServiceKind::Wcs => WcsEtag::digest(bytes),
        ServiceKind::Ufile => UfileEtag::digest(bytes),
        ServiceKind::Wantu => Md5::digest(bytes).to_hex_upper(),
    }
}

/// Upload `bytes` to `t` and check the etag the service answered; `what` names the case in a
/// failure.
async fn upload_checked<T: Transport, P: TokenProvider, C: CheckpointStore, R: Runtime>(
    up: &Uploader<T, P, C, R>,
    t: &Target,
    bytes: &[u8],
    options: &UploadOptions,
    what: &str,
) -> UploadResult {
    let result = up
        .upload(&mut BytesSource::new(bytes.to_vec()), t, options, &Control::new(), &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(result.etag.to_ascii_uppercase(), expected_etag(t.service, bytes).to_ascii_uppercase(), "{what}");
    result
}

/// The error an upload of ten bytes to `t` ends with: for the cases refused before, or instead
/// of, storing anything.
async fn refusal<T: Transport, P: TokenProvider, C: CheckpointStore, R: Runtime>(
    up: &Uploader<T, P, C, R>,
    t: &Target,
    options: &UploadOptions,
) -> yunup::Error {
    refusal_of(up, t, options, vec![1u8; 10]).await
}

/// [`refusal`] of an upload of `bytes`.
async fn refusal_of<T: Transport, P: TokenProvider, C: CheckpointStore, R: Runtime>(
    up: &Uploader<T, P, C, R>,
    t: &Target,
    options: &UploadOptions,
    bytes: Vec<u8>,
) -> yunup::Error {
    up.upload(&mut BytesSource::new(bytes), t, options, &Control::new(), &mut |_| {}).await.unwrap_err()
}

/// Upload `bytes` (fingerprint `fingerprint`) to `t` with `options`, pausing once `parts` parts are
/// done; the error the upload ends with.
async fn pause_after<T: Transport, P: TokenProvider, C: CheckpointStore, R: Runtime>(
    up: &Uploader<T, P, C, R>,
    t: &Target,
    bytes: &[u8],
    fingerprint: &str,
    options: &UploadOptions,
    parts: u64,
) -> yunup::Error {
    let control = Control::new();
    let mut source = BytesSource::new(bytes.to_vec()).with_fingerprint(fingerprint);
    up.upload(&mut source, t, options, &control, &mut |p| {
        if p.parts_done >= parts {
            control.pause();
        }
    })
    .await
    .unwrap_err()
}

fn uploader(
    emu: &Emulator,
) -> Uploader<ReqwestTransport, BackendTokens<ReqwestTransport>, NoCheckpoints, TokioRuntime> {
    uploader_with(emu, NoCheckpoints)
}

/// An uploader with tokens from the demo host and these checkpoints.
fn uploader_with<C: CheckpointStore>(
    emu: &Emulator,
    checkpoints: C,
) -> Uploader<ReqwestTransport, BackendTokens<ReqwestTransport>, C, TokioRuntime> {
    Uploader::new(
        ReqwestTransport::new().unwrap(),
        BackendTokens::new(&emu.demo).unwrap(),
        checkpoints,
        TokioRuntime::default(),
    )
}

/// An uploader with these tokens (a fixed token, another backend URL), no checkpoints.
fn uploader_using<P: TokenProvider>(tokens: P) -> Uploader<ReqwestTransport, P, NoCheckpoints, TokioRuntime> {
    Uploader::new(ReqwestTransport::new().unwrap(), tokens, NoCheckpoints, TokioRuntime::default())
}

#[tokio::test(flavor = "current_thread")]
async fn every_service_every_size_with_odd_keys() {
    let emu = Emulator::fresh("engine-sizes", &[]);
    let up = uploader(&emu);
    let sizes = [0, 1, 4 * MIB, 4 * MIB + 1, 9 * MIB + 7];
    let keys = ["a b/c:d%e.txt", "📦/ünï+code.bin", "plain"];
    for service in SERVICES {
        for (i, &size) in sizes.iter().enumerate() {
            let key = format!("{}-{i}-{}", keys[i % keys.len()], service.as_str());
            let bytes = data(size, i as u8);
            let mut seen = Vec::new();
            let result = up
                .upload(
                    &mut BytesSource::new(bytes.clone()),
                    &target(&emu, service, &key),
                    &UploadOptions::default(),
                    &Control::new(),
                    &mut |p| seen.push(p.confirmed),
                )
                .await
                .unwrap_or_else(|e| panic!("{service:?} size {size}: {e}"));
            assert_eq!(result.size, size as u64);
            assert_eq!(
                result.etag.to_ascii_uppercase(),
                expected_etag(service, &bytes).to_ascii_uppercase(),
                "{service:?} {size}"
            );
            assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress never goes backwards: {seen:?}");
            assert_eq!(seen.last().copied(), Some(size as u64));
            assert!(read_back(&emu, service, &key).await == bytes, "{service:?} size {size}: bytes differ");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_hundred_mib_file_in_parts() {
    let emu = Emulator::fresh("engine-100m", &[]);
    let up = uploader(&emu);
    let bytes = data(100 * MIB, 9);
    for service in SERVICES {
        let key = format!("big/{}.bin", service.as_str());
        let options = UploadOptions { concurrency: 4, ..Default::default() };
        upload_checked(&up, &target(&emu, service, &key), &bytes, &options, &format!("{service:?}")).await;
        assert!(read_back(&emu, service, &key).await == bytes, "{service:?}");
    }
}

/// Count the emulator's log lines for part requests since the last call.
async fn part_requests(emu: &Emulator, service: ServiceKind) -> usize {
    let markers: &[&str] = match service {
        ServiceKind::Wcs => &["/mkblk/"],
        ServiceKind::Ufile => &["PUT /public/"],
        ServiceKind::Wantu => &["/api/proxy/blockInit", "/api/proxy/blockUpload"],
    };
    emu.log_lines()
        .await
        .iter()
        .filter(|l| l.starts_with(service.as_str()) && markers.iter().any(|m| l.contains(m)) && l.contains(" 200 "))
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn faults_on_a_fifth_of_part_requests_do_not_stop_uploads() {
    let emu = Emulator::fresh("engine-faults", &[]);
    let up = uploader(&emu);
    let http = reqwest::Client::new();
    let bytes = data(21 * MIB + 5, 3);
    for (service, path) in
        [(ServiceKind::Wcs, "/mkblk"), (ServiceKind::Ufile, "partNumber"), (ServiceKind::Wantu, "blockUpload")]
    {
        for fault in [
            r#""errorRate":0.2,"errorStatuses":[500,503]"#,
            r#""resetRate":0.2"#,
            r#""stallRate":0.2,"stallMs":300"#,
            r#""truncateRate":0.2"#,
        ] {
            let config = format!(r#"{{"seed":7,{fault},"services":["{}"],"pathContains":"{path}"}}"#, service.as_str());
            let r = http.put(format!("{}/admin/faults", emu.demo)).body(config).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let key = format!("faults/{}-{}.bin", service.as_str(), fault.len());
            let options = UploadOptions {
                retry: yunup::engine::RetryPolicy { max_attempts: 10, base_delay_ms: 20, max_delay_ms: 200 },
                ..Default::default()
            };
            let what = format!("{service:?} with {fault}");
            upload_checked(&up, &target(&emu, service, &key), &bytes, &options, &what).await;
            assert!(read_back(&emu, service, &key).await == bytes, "{service:?} with {fault}");
        }
    }
    http.put(format!("{}/admin/faults", emu.demo)).body("{}").send().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn pause_then_resume_sends_only_the_missing_parts() {
    let emu = Emulator::fresh("engine-resume", &[]);
    let checkpoints = MemoryCheckpoints::default();
    let up = uploader_with(&emu, checkpoints);
    let bytes = data(6 * 4 * MIB + 3, 5); // 7 parts
    for service in SERVICES {
        let key = format!("resume/{}.bin", service.as_str());
        let t = target(&emu, service, &key);
        let options = UploadOptions { concurrency: 1, ..Default::default() };
        let err = pause_after(&up, &t, &bytes, "v1", &options, 3).await;
        assert_eq!((err.kind(), err.code()), (ErrorKind::Aborted, Some("paused")));
        let sent_before = part_requests(&emu, service).await;
        assert!(sent_before >= 3, "{service:?}: {sent_before}");

        let result = up
            .upload(
                &mut BytesSource::new(bytes.clone()).with_fingerprint("v1"),
                &t,
                &options,
                &Control::new(),
                &mut |_| {},
            )
            .await
            .unwrap_or_else(|e| panic!("{service:?} resume: {e}"));
        let sent_after = part_requests(&emu, service).await;
        assert_eq!(sent_before + sent_after, 7, "{service:?}: no finished part is sent twice");
        assert_eq!(result.etag.to_ascii_uppercase(), expected_etag(service, &bytes).to_ascii_uppercase());
        assert!(read_back(&emu, service, &key).await == bytes);
    }
}

/// Hands out a token that has already expired first, then good ones; counts calls.
struct ExpiringFirst {
    signer: LocalSigner<TokioRuntime>,
    calls: Arc<AtomicUsize>,
}

impl TokenProvider for ExpiringFirst {
    async fn upload_token(&self, target: &Target, refresh: bool) -> yunup::Result<String> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            assert!(!refresh);
            // A deadline a minute ago. (One of "now", 5 ms before the service looked, was still
            // valid in two runs of seven: this machine's clock is stepped.)
            let past =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 - 60_000;
            return self.signer.upload_token_until(target, past);
        }
        assert!(refresh, "a new token is asked for only after a refusal");
        self.signer.upload_token(target, refresh).await
    }
    async fn sign(&self, request: &SignRequest) -> yunup::Result<String> {
        self.signer.sign(request).await
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_expired_token_is_replaced_once() {
    let emu = Emulator::fresh("engine-expiry", &[]);
    for service in [ServiceKind::Wcs, ServiceKind::Wantu] {
        let calls = Arc::new(AtomicUsize::new(0));
        let runtime = TokioRuntime::default();
        let tokens = ExpiringFirst {
            signer: LocalSigner { credentials: Credentials::new(AK, SK), lifetime_secs: 600, runtime: runtime.clone() },
            calls: calls.clone(),
        };
        let up = Uploader::new(ReqwestTransport::new().unwrap(), tokens, NoCheckpoints, runtime);
        for size in [10, 9 * MIB] {
            calls.store(0, Ordering::SeqCst);
            let bytes = data(size, 4);
            let key = format!("expiry/{}-{size}", service.as_str());
            let result = up
                .upload(
                    &mut BytesSource::new(bytes.clone()),
                    &target(&emu, service, &key),
                    &UploadOptions::default(),
                    &Control::new(),
                    &mut |_| {},
                )
                .await
                .unwrap_or_else(|e| panic!("{service:?} {size}: {e}"));
            assert_eq!(calls.load(Ordering::SeqCst), 2, "{service:?} {size}: one expired token, one fresh");
            assert_eq!(result.size, size as u64);
        }
    }
}

/// A lifetime too long to add to the clock saturates: the tokens are minted and accepted, with
/// the latest deadline each policy can state. It overflowed (a panic in debug builds) before.
#[tokio::test(flavor = "current_thread")]
async fn an_endless_token_lifetime_saturates() {
    let credentials = Credentials::new(AK, SK);
    let signer =
        LocalSigner { credentials: credentials.clone(), lifetime_secs: u64::MAX, runtime: TokioRuntime::default() };
    let now_ms = TokioRuntime::default().now_ms();
    let target = |service| Target {
        service,
        endpoint: "http://127.0.0.1:9".into(),
        bucket: "public".into(),
        key: "k".into(),
        mime: String::new(),
    };
    let wcs = signer.upload_token(&target(ServiceKind::Wcs), false).await.unwrap();
    let wcs = yunup::sign::wcs::verify_upload_token(&wcs, &credentials, now_ms).unwrap();
    assert_eq!(wcs.policy.deadline, Some(u64::MAX));
    let wantu = signer.upload_token(&target(ServiceKind::Wantu), false).await.unwrap();
    let wantu = yunup::sign::wantu::verify_upload_token(&wantu, &credentials, now_ms).unwrap();
    assert_eq!(wantu.policy.expiration, Some(i64::MAX));
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_aborts_the_multipart_upload_on_the_service() {
    let emu = Emulator::fresh("engine-cancel", &[]);
    let up = uploader(&emu);
    let control = Control::new();
    let err = up
        .upload(
            &mut BytesSource::new(data(20 * MIB, 6)),
            &target(&emu, ServiceKind::Ufile, "cancelled.bin"),
            &UploadOptions { concurrency: 1, ..Default::default() },
            &control,
            &mut |p| {
                if p.parts_done >= 1 {
                    control.cancel();
                }
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("cancelled"));
    let aborted = emu.log_lines().await.iter().any(|l| l.starts_with("ufile DELETE /public/cancelled.bin"));
    assert!(aborted, "cancel sends the abort");
    let r = reqwest::get(format!("{}/public/cancelled.bin", emu.ufile)).await.unwrap();
    assert_eq!(r.status(), 404, "nothing half-written is visible");
}

#[tokio::test(flavor = "current_thread")]
async fn refused_and_malformed_inputs_fail_clearly() {
    let emu = Emulator::fresh("engine-refused", &[]);
    let up = uploader(&emu);
    // A bucket the backend does not serve: the token backend refuses; an auth error, no retry loop.
    let t = Target { bucket: "nope".into(), ..target(&emu, ServiceKind::Wcs, "x") };
    let err = refusal(&up, &t, &UploadOptions::default()).await;
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let err = refusal(&up, &target(&emu, ServiceKind::Wcs, ""), &UploadOptions::default()).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let bad_part = UploadOptions { part_size: Some(5 * MIB as u64), ..Default::default() };
    let err = refusal(&up, &target(&emu, ServiceKind::Wcs, "k"), &bad_part).await;
    assert!(err.message().contains("multiple of 4 MiB"), "{err}");
    // Sizes the engine could not hold in memory (or in wasm32's usize): refused before any request.
    let too_big = [
        UploadOptions { part_size: Some(8 * 1024 * MIB as u64), ..Default::default() },
        UploadOptions { multipart_threshold: 5 * 1024 * MIB as u64, ..Default::default() },
    ];
    for options in too_big {
        let err = refusal(&up, &target(&emu, ServiceKind::Wcs, "k"), &options).await;
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains("1 GiB"), "{err}");
    }
    // Nothing listens here: a network error after the retries, with no secret in the message.
    let dead = Target { endpoint: "http://127.0.0.1:9".into(), ..target(&emu, ServiceKind::Wantu, "k") };
    let quick = UploadOptions {
        retry: yunup::engine::RetryPolicy { max_attempts: 2, base_delay_ms: 1, max_delay_ms: 1 },
        ..Default::default()
    };
    let err = refusal(&up, &dead, &quick).await;
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(!err.message().contains(SK));
    let _ = TokioRuntime::default().now_ms();
}

/// Does the emulator have an object at `key` (in bucket or namespace `public`)?
async fn stored(emu: &Emulator, service: ServiceKind, key: &str) -> bool {
    reqwest::get(object_url(emu, service, key)).await.unwrap().status() == 200
}

/// A token made for another bucket, key or folder would have the service store the file there
/// while the upload reported the key it was given: refused before anything is sent, small files
/// and multipart alike. A Wantu policy's magic variables are the service's to fill in.
#[tokio::test(flavor = "current_thread")]
async fn a_token_for_another_place_is_refused_before_anything_is_sent() {
    use yunup::engine::{FixedToken, TOKEN_TARGET};
    use yunup::sign::{wantu, wcs};
    let emu = Emulator::fresh("engine-token-target", &[]);
    let credentials = Credentials::new(AK, SK);
    let deadline = TokioRuntime::default().now_ms() + 600_000;
    let wcs_token = |scope: &str| wcs::upload_token(&credentials, &wcs::PutPolicy::new(scope, deadline)).unwrap();
    let wantu_token = |namespace: &str, dir: Option<&str>, name: Option<&str>| {
        let policy = wantu::UploadPolicy {
            namespace: Some(namespace.into()),
            expiration: Some(deadline as i64),
            dir: dir.map(str::to_owned),
            name: name.map(str::to_owned),
            ..Default::default()
        };
        wantu::upload_token(&credentials, &policy).unwrap()
    };
    let refused = [
        (ServiceKind::Wcs, wcs_token("public:target/other"), "the key \"target/other\" only"),
        (ServiceKind::Wcs, wcs_token("private-bucket"), "bucket \"private-bucket\""),
        (ServiceKind::Wantu, wantu_token("other", None, None), "namespace \"other\""),
        (ServiceKind::Wantu, wantu_token("public", Some("/elsewhere"), None), "the folder \"/elsewhere\""),
        (ServiceKind::Wantu, wantu_token("public", Some("/target"), Some("n")), "the file name \"n\""),
    ];
    for (service, token, place) in refused {
        let up = uploader_using(FixedToken(token));
        for size in [10, 9 * MIB] {
            let t = target(&emu, service, "target/mine");
            let err = refusal_of(&up, &t, &UploadOptions::default(), data(size, 9)).await;
            assert_eq!((err.kind(), err.code()), (ErrorKind::Auth, Some(TOKEN_TARGET)), "{service:?} {size}: {err}");
            assert!(err.message().contains(place), "{service:?}: {err}");
        }
        for key in ["target/mine", "target/other", "elsewhere/mine", "target/n"] {
            assert!(!stored(&emu, service, key).await, "{service:?}: nothing stored at {key}");
        }
    }
    // What the token allows goes through: the same scope, a bucket-wide scope, the same folder
    // written without its '/', and magic variables.
    let allowed = [
        (ServiceKind::Wcs, wcs_token("public:target/mine"), "target/mine"),
        (ServiceKind::Wcs, wcs_token("public"), "target/any"),
        (ServiceKind::Wantu, wantu_token("public", Some("target"), Some("mine")), "target/mine"),
        (ServiceKind::Wantu, wantu_token("public", Some("/target"), Some("${name}")), "target/named"),
    ];
    for (service, token, key) in allowed {
        let up = uploader_using(FixedToken(token));
        let t = target(&emu, service, key);
        up.upload(&mut BytesSource::new(data(10, 9)), &t, &UploadOptions::default(), &Control::new(), &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{service:?} {key}: {e}"));
        assert_eq!(read_back(&emu, service, key).await, data(10, 9));
    }
}

/// Keys the service would store under another name are refused before any request: Wantu tidies
/// its folders (`/a` and `a//b` became `a` and `a/b`), and a UFile key's `.` and `..` segments
/// are resolved away in the URL.
#[tokio::test(flavor = "current_thread")]
async fn keys_a_service_would_rename_are_refused() {
    let emu = Emulator::fresh("engine-renamed-keys", &[]);
    let up = uploader(&emu);
    let cases = [
        (ServiceKind::Wantu, "/lead.txt", "starts with '/'"),
        (ServiceKind::Wantu, "odd/a//b", "empty folder name"),
        (ServiceKind::Wantu, "dir/", "ends with '/'"),
        (ServiceKind::Ufile, "a/./b", "'.' or '..' segment"),
        (ServiceKind::Ufile, "../x", "'.' or '..' segment"),
        (ServiceKind::Ufile, "q/..", "'.' or '..' segment"),
    ];
    for (service, key, problem) in cases {
        let err = refusal(&up, &target(&emu, service, key), &UploadOptions::default()).await;
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{service:?} {key}: {err}");
        assert!(err.message().contains(problem), "{service:?} {key}: {err}");
    }
    // Dots inside names are fine.
    for (service, key) in [(ServiceKind::Ufile, "a/.hidden/..b"), (ServiceKind::Wantu, "a/b.c.")] {
        upload_checked(&up, &target(&emu, service, key), &data(10, 1), &UploadOptions::default(), key).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_session_the_service_forgot_restarts_cleanly() {
    use yunup::runtime::native::DirCheckpoints;
    let emu = Emulator::fresh("engine-forgot", &[]);
    let dir = temp_data_dir("engine-forgot-checkpoints");
    let up = uploader_with(&emu, DirCheckpoints::new(dir.to_path_buf()));
    let bytes = data(12 * MIB + 1, 4);
    for service in [ServiceKind::Ufile, ServiceKind::Wantu, ServiceKind::Wcs] {
        let key = format!("forgot/{}.bin", service.as_str());
        let t = target(&emu, service, &key);
        let options = UploadOptions { concurrency: 1, ..Default::default() };
        let _ = pause_after(&up, &t, &bytes, "f", &options, 2).await;
        // Make the saved session point at something the service never heard of.
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "json"))
            .unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let forged = match service {
            ServiceKind::Ufile | ServiceKind::Wantu => {
                let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
                v["session"]["uploadId"] = "0123456789ABCDEF0123456789ABCDEF".into();
                v.to_string()
            }
            // WCS: the blocks' ctxs are what the service remembers.
            _ => {
                let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
                for part in v["parts"].as_array_mut().unwrap() {
                    part["result"] = "ffffffffffffffffffffffffffffffff-0".into();
                }
                v.to_string()
            }
        };
        std::fs::write(&file, forged).unwrap();
        let result = up
            .upload(
                &mut BytesSource::new(bytes.clone()).with_fingerprint("f"),
                &t,
                &options,
                &Control::new(),
                &mut |_| {},
            )
            .await
            .unwrap_or_else(|e| panic!("{service:?}: {e}"));
        assert_eq!(result.etag.to_ascii_uppercase(), expected_etag(service, &bytes).to_ascii_uppercase());
        assert!(read_back(&emu, service, &key).await == bytes, "{service:?}");
        assert!(std::fs::read_dir(&dir).unwrap().next().is_none(), "{service:?}: the checkpoint is gone after success");
    }
}

/// A source of `size` zero bytes that are made only when read: sizes no test could hold.
struct Zeros(u64);

impl yunup::engine::Source for Zeros {
    fn size(&self) -> Option<u64> {
        Some(self.0)
    }
    fn fingerprint(&self) -> Option<String> {
        None
    }
    async fn read(&mut self, offset: u64, len: u64) -> yunup::Result<bytes::Bytes> {
        Ok(vec![0; len.min(self.0.saturating_sub(offset)) as usize].into())
    }
}

/// Writes down each request (`METHOD url`) and refuses it, so an upload stops at its first.
#[derive(Default)]
struct FirstRequest(std::cell::RefCell<Vec<String>>);

impl yunup::engine::Transport for &FirstRequest {
    async fn send(&self, request: yunup::service::HttpRequest) -> yunup::Result<yunup::service::HttpResponse> {
        self.0.borrow_mut().push(format!("{:?} {}", request.method, request.url));
        Ok(yunup::service::HttpResponse { status: 400, headers: Vec::new(), body: "{}".into() })
    }
}

/// What the engine decides before it sends: the simple-upload caps of each service, Wantu's
/// part count, and a chunk size of 0. Returns the requests made and the error.
async fn first_request(service: ServiceKind, size: u64, options: UploadOptions) -> (Vec<String>, yunup::Error) {
    let runtime = TokioRuntime::default();
    let signer = LocalSigner { credentials: Credentials::new(AK, SK), lifetime_secs: 600, runtime: runtime.clone() };
    let seen = FirstRequest::default();
    let up = Uploader::new(&seen, signer, NoCheckpoints, runtime);
    let target = Target {
        service,
        endpoint: "http://127.0.0.1:9".into(),
        bucket: "public".into(),
        key: "k".into(),
        mime: String::new(),
    };
    let options = UploadOptions { retry: RetryPolicy { max_attempts: 1, ..Default::default() }, ..options };
    let err = up.upload(&mut Zeros(size), &target, &options, &Control::new(), &mut |_| {}).await.unwrap_err();
    (seen.0.take(), err)
}

#[tokio::test(flavor = "current_thread")]
async fn a_file_over_a_services_simple_upload_cap_goes_in_parts_whatever_the_threshold() {
    let any_threshold = UploadOptions { multipart_threshold: yunup::engine::LARGEST_PART, ..Default::default() };
    // UFile's PUT takes 512 MB, WCS's form 500 MB: one byte more starts a multipart upload.
    let (seen, _) = first_request(ServiceKind::Ufile, 512_000_001, any_threshold.clone()).await;
    assert!(seen.len() == 1 && seen[0].starts_with("Post ") && seen[0].ends_with("?uploads"), "{seen:?}");
    let (seen, _) = first_request(ServiceKind::Wcs, 500_000_001, any_threshold.clone()).await;
    assert!(seen.len() == 1 && seen[0].contains("/mkblk/"), "{seen:?}");
    // Below the caps the option still decides.
    let (seen, _) = first_request(ServiceKind::Wcs, 4 * MIB as u64 + 1, any_threshold).await;
    assert!(seen.len() == 1 && seen[0].ends_with("/file/upload"), "{seen:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_wantu_upload_is_planned_within_ten_thousand_parts_or_refused_before_it_starts() {
    // A part size that needs 10 001 parts: refused before anything is sent.
    let small_parts = UploadOptions { part_size: Some(102_400), ..Default::default() };
    let (seen, err) = first_request(ServiceKind::Wantu, 102_400 * 10_000 + 1, small_parts).await;
    assert_eq!((seen.len(), err.kind()), (0, ErrorKind::InvalidInput), "{err}");
    assert!(err.message().contains("at most 10000 parts"), "{err}");
    // No part size given: one is chosen that fits, up to 10 MiB parts (~97.7 GiB).
    let (seen, err) = first_request(ServiceKind::Wantu, 10_000 * 10 * MIB as u64 + 1, Default::default()).await;
    assert_eq!((seen.len(), err.kind()), (0, ErrorKind::InvalidInput), "{err}");
    assert!(err.message().contains("do not fit one Wantu upload"), "{err}");
    let (seen, err) = first_request(ServiceKind::Wantu, 50 << 30, Default::default()).await;
    assert!(seen.len() == 1 && seen[0].contains("blockInit"), "{seen:?} {err}");
    assert_eq!(yunup::service::wantu::part_size_for(50 << 30, 4 << 20), Some(5_368_710));
    assert_eq!(yunup::service::wantu::part_size_for(1 << 30, 4 << 20), Some(4 << 20));
}

#[tokio::test(flavor = "current_thread")]
async fn a_chunk_size_of_zero_is_refused() {
    let options = UploadOptions { chunk_size: Some(0), ..Default::default() };
    let (seen, err) = first_request(ServiceKind::Wcs, 10 * MIB as u64, options).await;
    assert_eq!((seen.len(), err.kind()), (0, ErrorKind::InvalidInput), "{err}");
}

/// A resume that verifies its first part and then finds the file changed (its fingerprint
/// lied) starts over cleanly, and its progress holds instead of dropping back to 0 (it did
/// before).
#[tokio::test(flavor = "current_thread")]
async fn a_changed_file_restarts_cleanly_and_progress_does_not_go_back() {
    let emu = Emulator::fresh("engine-restart-progress", &[]);
    let up = uploader_with(&emu, MemoryCheckpoints::default());
    let t = target(&emu, ServiceKind::Ufile, "restart.bin");
    let options = UploadOptions { concurrency: 1, ..Default::default() };
    let first = data(16 * MIB, 1);
    let _ = pause_after(&up, &t, &first, "same", &options, 2).await;
    // The first part as before, the rest changed: part 1 resumes, part 2 fails re-verification.
    let mut second = first[..4 * MIB].to_vec();
    second.extend(data(12 * MIB, 2));
    let mut seen = Vec::new();
    let result = up
        .upload(
            &mut BytesSource::new(second.clone()).with_fingerprint("same"),
            &t,
            &options,
            &Control::new(),
            &mut |p| seen.push(p),
        )
        .await
        .unwrap();
    assert_eq!(result.etag, UfileEtag::digest(&second));
    assert!(read_back(&emu, ServiceKind::Ufile, "restart.bin").await == second);
    assert!(seen.iter().any(|p| p.resumed == 4 * MIB as u64), "the first part was resumed: {seen:?}");
    for pair in seen.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let grew = b.confirmed >= a.confirmed && b.sent >= a.sent && b.parts_done >= a.parts_done;
        assert!(grew && b.resumed >= a.resumed, "went back: {a:?} then {b:?}");
    }
    assert_eq!(seen.last().unwrap().confirmed, 16 * MIB as u64);
}

/// A file rewritten while it uploads in parts fails the upload, and nothing is stored: the etags
/// cannot tell, as they match the mix of old and new bytes that was sent. (It was stored.)
#[tokio::test(flavor = "current_thread")]
async fn a_file_rewritten_during_its_upload_is_not_stored() {
    let emu = Emulator::fresh("engine-rewritten", &[]);
    let dir = temp_data_dir("engine-rewritten-file");
    let path = dir.join("growing.bin");
    let size = 12 * MIB;
    for service in SERVICES {
        std::fs::write(&path, data(size, 1)).unwrap();
        let mut source = yunup::runtime::native::FileSource::open(&path).await.unwrap();
        let key = format!("rewritten-{service:?}.bin");
        let options = UploadOptions { concurrency: 1, ..Default::default() };
        let mut rewritten = false;
        let err = uploader(&emu)
            .upload(&mut source, &target(&emu, service, &key), &options, &Control::new(), &mut |p| {
                // After the first part, the file gets other bytes. (A simple upload reads the file
                // once, before it sends: it stores one version whatever happens after.)
                if !rewritten && p.parts_done >= 1 {
                    std::thread::sleep(Duration::from_millis(20));
                    std::fs::write(&path, data(size, 2)).unwrap();
                    rewritten = true;
                }
            })
            .await
            .unwrap_err();
        assert!(rewritten, "{service:?}");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{service:?}: {err}");
        assert!(err.message().contains("changed while it was being uploaded"), "{service:?}: {err}");
        let url = match service {
            ServiceKind::Wcs => format!("{}/public/{key}", emu.wcs),
            ServiceKind::Ufile => format!("{}/public/{key}", emu.ufile),
            ServiceKind::Wantu => format!("{}/public/{key}", emu.wantu),
        };
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 404, "{service:?}: nothing stored");
    }
}

async fn set_faults(emu: &Emulator, config: &str) {
    let r = reqwest::Client::new().put(format!("{}/admin/faults", emu.demo)).body(config.to_owned()).send().await;
    assert_eq!(r.unwrap().status(), 200);
}

/// A service that answers 429 (or 408) to every attempt is busy, not refusing the call: the
/// upload ends as a `server` error with the status, after the retries (it ended as
/// `invalid-input`, "fix the call").
#[tokio::test(flavor = "current_thread")]
async fn a_service_that_keeps_saying_later_is_a_server_error() {
    let emu = Emulator::fresh("engine-429", &[]);
    let up = uploader(&emu);
    let quick = UploadOptions {
        retry: RetryPolicy { max_attempts: 2, base_delay_ms: 1, max_delay_ms: 1 },
        ..Default::default()
    };
    for service in SERVICES {
        for status in [429, 408] {
            set_faults(
                &emu,
                &format!(r#"{{"errorRate":1.0,"errorStatuses":[{status}],"services":["{}"]}}"#, service.as_str()),
            )
            .await;
            let err = refusal(&up, &target(&emu, service, "busy"), &quick).await;
            assert_eq!((err.kind(), err.status()), (ErrorKind::Server, Some(status)), "{service:?}: {err}");
        }
    }
    set_faults(&emu, "{}").await;
}

/// The user's backend failing for a moment (a 503, a reset) is asked again, with the same
/// backoff as the service; it ended the upload at once before, even one that signs every request
/// (UFile) and so asks the backend once per part.
#[tokio::test(flavor = "current_thread")]
async fn a_token_backend_that_fails_for_a_moment_is_asked_again() {
    let emu = Emulator::fresh("engine-backend-faults", &[]);
    let up = uploader(&emu);
    let bytes = data(9 * MIB + 7, 8);
    let options = UploadOptions {
        retry: RetryPolicy { max_attempts: 10, base_delay_ms: 20, max_delay_ms: 200 },
        ..Default::default()
    };
    for fault in [r#""errorRate":0.4,"errorStatuses":[502,503]"#, r#""resetRate":0.4"#] {
        set_faults(&emu, &format!(r#"{{"seed":3,{fault},"services":["backend"]}}"#)).await;
        for service in SERVICES {
            let key = format!("backend-faults/{}-{}.bin", service.as_str(), fault.len());
            let what = format!("{service:?} with {fault}");
            upload_checked(&up, &target(&emu, service, &key), &bytes, &options, &what).await;
        }
    }
    // A refusal is final: no retry loop, an auth error that says who refused.
    set_faults(&emu, r#"{"errorRate":1,"errorStatuses":[403],"services":["backend"]}"#).await;
    let t = target(&emu, ServiceKind::Wcs, "backend-faults/refused.bin");
    let err = up.upload(&mut BytesSource::new(bytes.clone()), &t, &options, &Control::new(), &mut |_| {}).await;
    let err = err.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Auth, Some(403)), "{err}");
    assert!(err.message().contains("token backend refused"), "{err}");
    set_faults(&emu, "{}").await;
}

/// A 404 from the user's backend while a saved upload resumes says nothing about the service's
/// session: the checkpoint stays, and the next try resumes it. (It was taken for "the service
/// forgot the upload", and the saved parts were dropped.)
#[tokio::test(flavor = "current_thread")]
async fn a_token_backend_404_does_not_drop_the_saved_upload() {
    let emu = Emulator::fresh("engine-backend-404", &[]);
    let up = uploader_with(&emu, MemoryCheckpoints::default());
    let bytes = data(6 * 4 * MIB + 3, 5); // 7 parts
    let t = target(&emu, ServiceKind::Ufile, "backend-404.bin");
    let options = UploadOptions { concurrency: 1, ..Default::default() };
    let source = || BytesSource::new(bytes.clone()).with_fingerprint("v1");
    let err = pause_after(&up, &t, &bytes, "v1", &options, 3).await;
    assert_eq!(err.code(), Some("paused"));
    let sent_before = part_requests(&emu, ServiceKind::Ufile).await;

    set_faults(&emu, r#"{"errorRate":1,"errorStatuses":[404],"services":["backend"]}"#).await;
    let err = up.upload(&mut source(), &t, &options, &Control::new(), &mut |_| {}).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Auth, Some(404)), "{err}");
    set_faults(&emu, "{}").await;

    up.upload(&mut source(), &t, &options, &Control::new(), &mut |_| {}).await.unwrap();
    let sent_after = part_requests(&emu, ServiceKind::Ufile).await;
    assert_eq!(sent_before + sent_after, 7, "the saved parts were kept: {sent_before} then {sent_after}");
    assert!(read_back(&emu, ServiceKind::Ufile, "backend-404.bin").await == bytes);
}

/// Signs after a wait that never ends (a backend that hangs), or answers at once.
struct Hanging {
    signer: LocalSigner<TokioRuntime>,
    hang: bool,
}

impl TokenProvider for Hanging {
    async fn upload_token(&self, target: &Target, refresh: bool) -> yunup::Result<String> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.signer.upload_token(target, refresh).await
    }
    async fn sign(&self, request: &SignRequest) -> yunup::Result<String> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.signer.sign(request).await
    }
}

/// Pause and cancel end waits that are not requests: a token backend that never answers, and a
/// long backoff. (Only requests were interrupted before: such an upload stayed pending, paused
/// or not, and a cancel during a backoff waited for it.) The bound below is for a hang, not for
/// speed: each of these returned in milliseconds.
#[tokio::test(flavor = "current_thread")]
async fn pause_and_cancel_do_not_wait_for_a_hanging_backend_or_a_backoff() {
    let emu = Emulator::fresh("engine-hang", &[]);
    let runtime = TokioRuntime::default();
    let signer = LocalSigner { credentials: Credentials::new(AK, SK), lifetime_secs: 600, runtime: runtime.clone() };
    let stop_soon = |control: &Control, cancel: bool| {
        let control = control.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if cancel { control.cancel() } else { control.pause() }
        }
    };
    let hang = Uploader::new(
        ReqwestTransport::new().unwrap(),
        Hanging { signer: signer.clone(), hang: true },
        NoCheckpoints,
        runtime.clone(),
    );
    for (service, cancel) in [(ServiceKind::Wcs, true), (ServiceKind::Ufile, false)] {
        let control = Control::new();
        let t = target(&emu, service, "hang.bin");
        let (mut source, options, mut report) = (BytesSource::new(data(10, 1)), UploadOptions::default(), |_| {});
        let upload = hang.upload(&mut source, &t, &options, &control, &mut report);
        let (result, ()) =
            tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(upload, stop_soon(&control, cancel)) })
                .await
                .unwrap_or_else(|_| panic!("{service:?}: the upload stayed pending after it was stopped"));
        assert_eq!(result.unwrap_err().code(), Some(if cancel { "cancelled" } else { "paused" }));
    }

    // Every part request fails with a 503; the backoff before the next try is 10 minutes.
    set_faults(&emu, r#"{"errorRate":1,"errorStatuses":[503],"services":["ufile"],"pathContains":"partNumber"}"#).await;
    let up = Uploader::new(ReqwestTransport::new().unwrap(), Hanging { signer, hang: false }, NoCheckpoints, runtime);
    let options = UploadOptions {
        retry: RetryPolicy { max_attempts: 3, base_delay_ms: 600_000, max_delay_ms: 600_000 },
        ..Default::default()
    };
    let control = Control::new();
    let t = target(&emu, ServiceKind::Ufile, "backoff.bin");
    let (mut source, mut report) = (BytesSource::new(data(9 * MIB, 2)), |_| {});
    let upload = up.upload(&mut source, &t, &options, &control, &mut report);
    let (result, ()) =
        tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(upload, stop_soon(&control, true)) })
            .await
            .expect("a cancel during a backoff ends the upload");
    assert_eq!(result.unwrap_err().code(), Some("cancelled"));
    set_faults(&emu, "{}").await;
    let aborted = emu.log_lines().await.iter().any(|l| l.starts_with("ufile DELETE /public/backoff.bin"));
    assert!(aborted, "the cancelled upload was aborted on the service");
}

/// Giving up an upload that already stopped (paused): its session is aborted on the service and
/// its checkpoint removed, so the same file starts over. Before that, `pending` lists it (and
/// only for its own service, endpoint and bucket), so that it can be found without the file.
#[tokio::test(flavor = "current_thread")]
async fn a_paused_upload_can_be_listed_and_discarded() {
    let emu = Emulator::fresh("engine-discard", &[]);
    let checkpoints = std::rc::Rc::new(MemoryCheckpoints::default());
    let up = uploader_with(&emu, checkpoints.clone());
    let bytes = data(3 * 4 * MIB + 1, 7);
    let options = UploadOptions { concurrency: 1, ..Default::default() };
    for service in [ServiceKind::Ufile, ServiceKind::Wantu] {
        let key = format!("discard/{}.bin", service.as_str());
        let t = target(&emu, service, &key);
        let err = pause_after(&up, &t, &bytes, "v1", &options, 1).await;
        assert_eq!(err.code(), Some("paused"));
        let id = yunup::engine::Checkpoint::id(&t, "v1");
        let saved = CheckpointStore::load(&checkpoints, &id).await.expect("a checkpoint");
        let _ = emu.log_lines().await;

        let pending = up.pending(service, &t.endpoint, &t.bucket).await;
        let listed: Vec<_> = pending
            .iter()
            .map(|p| (p.checkpoint.key.as_str(), p.checkpoint.fingerprint.as_str(), p.checkpoint.size, p.running))
            .collect();
        assert_eq!(listed, [(key.as_str(), "v1", bytes.len() as u64, false)], "{service:?}: paused, not running");
        let confirmed = pending[0].checkpoint.confirmed();
        assert!(confirmed >= 4 * MIB as u64, "{service:?}: {confirmed}");
        assert!(up.pending(service, &t.endpoint, "other").await.is_empty(), "another bucket's");
        assert!(up.pending(service, "http://elsewhere", &t.bucket).await.is_empty(), "another endpoint's");
        // A copy under an id that is not its own names another upload than the one it holds.
        // (Another last digit: the ids depend on the emulator's port, and one ending in 0 was
        // "copied" onto itself and then removed, one run in sixteen.)
        let last = if id.ends_with('0') { '1' } else { '0' };
        let copy = format!("{}{last}", &id[..id.len() - 1]);
        CheckpointStore::save(&checkpoints, &copy, &saved).await.unwrap();
        assert_eq!(
            up.pending(service, &t.endpoint, &t.bucket).await.len(),
            1,
            "{service:?}: a copy under another id is listed"
        );
        CheckpointStore::remove(&checkpoints, &copy).await;

        assert!(up.discard("v1", &t, &options).await.unwrap(), "{service:?}: nothing to discard");
        assert!(CheckpointStore::load(&checkpoints, &id).await.is_none(), "{service:?}");
        assert!(up.pending(service, &t.endpoint, &t.bucket).await.is_empty(), "{service:?}");
        let lines = emu.log_lines().await;
        let abort = match service {
            ServiceKind::Ufile => "ufile DELETE /public/discard/ufile.bin",
            _ => "wantu POST /api/proxy/blockCancel",
        };
        assert!(lines.iter().any(|l| l.starts_with(abort) && l.contains(" 200 ")), "{service:?}: {lines:?}");
        assert!(!up.discard("v1", &t, &options).await.unwrap(), "{service:?}: discarded twice");
    }
}

/// `pending` lists the oldest upload first, whatever the keys' order and the store's.
#[tokio::test(flavor = "current_thread")]
async fn pending_uploads_are_listed_oldest_first() {
    let emu = Emulator::fresh("engine-pending-order", &[]);
    let up = uploader_with(&emu, std::rc::Rc::new(MemoryCheckpoints::default()));
    let bytes = data(2 * 4 * MIB + 1, 5);
    let options = UploadOptions { concurrency: 1, ..Default::default() };
    // Keys in the reverse order of their starts, each start in its own millisecond.
    let keys = ["order/z.bin", "order/m.bin", "order/a.bin"];
    for key in keys {
        let err = pause_after(&up, &target(&emu, ServiceKind::Ufile, key), &bytes, "v1", &options, 1).await;
        assert_eq!(err.code(), Some("paused"));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let t = target(&emu, ServiceKind::Ufile, keys[0]);
    let listed: Vec<_> =
        up.pending(ServiceKind::Ufile, &t.endpoint, &t.bucket).await.into_iter().map(|p| p.checkpoint.key).collect();
    assert_eq!(listed, keys);
}

/// While `first` uploads `bytes` (fingerprint "v1") to `t`, `second` lists it as running and tries
/// the same upload and to discard it: both refusals. Then `first`'s result, checked.
async fn refused_while_running<C: CheckpointStore, D: CheckpointStore>(
    first: &Uploader<ReqwestTransport, BackendTokens<ReqwestTransport>, C, TokioRuntime>,
    second: &Uploader<ReqwestTransport, BackendTokens<ReqwestTransport>, D, TokioRuntime>,
    t: &Target,
    bytes: &[u8],
) -> [yunup::Error; 2] {
    let options = UploadOptions { concurrency: 1, ..Default::default() };
    let running = std::cell::Cell::new(false);
    let mut source = BytesSource::new(bytes.to_vec()).with_fingerprint("v1");
    let mut report = |p: yunup::engine::Progress| running.set(running.get() || p.parts_done >= 1);
    let control = Control::new();
    let first_upload = first.upload(&mut source, t, &options, &control, &mut report);
    let meanwhile = async {
        while !running.get() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let listed = second.pending(t.service, &t.endpoint, &t.bucket).await;
        let entry = listed.iter().find(|p| p.checkpoint.key == t.key).expect("the running upload's checkpoint");
        assert!(entry.running, "listed as running while it runs");
        let mut again = BytesSource::new(bytes.to_vec()).with_fingerprint("v1");
        let upload = second.upload(&mut again, t, &options, &Control::new(), &mut |_| {}).await;
        let discard = second.discard("v1", t, &options).await;
        [upload.map(|_| ()).unwrap_err(), discard.map(|_| ()).unwrap_err()]
    };
    let (result, refusals) = tokio::join!(first_upload, meanwhile);
    let result = result.expect("the first upload carries on");
    assert_eq!(result.etag.to_ascii_uppercase(), expected_etag(t.service, bytes).to_ascii_uppercase());
    refusals
}

/// The same source to the same target twice at once would share one checkpoint and one service
/// session: the second upload (or a discard) is refused with `upload-in-progress` while the first
/// runs, whether the two share a store or use two over one directory (two processes), and the
/// first is unharmed. Once it has ended, the same upload goes.
#[tokio::test(flavor = "current_thread")]
async fn the_same_upload_twice_at_once_is_refused() {
    use yunup::runtime::native::DirCheckpoints;
    let emu = Emulator::fresh("engine-lock", &[]);
    let dir = temp_data_dir("engine-lock-checkpoints");
    let bytes = data(3 * 4 * MIB + 1, 8);
    // Slow parts: the first upload is still running when the second starts.
    set_faults(&emu, r#"{"stallRate":1,"stallMs":200,"services":["ufile"],"pathContains":"partNumber"}"#).await;
    let memory = std::rc::Rc::new(MemoryCheckpoints::default());
    let shared = uploader_with(&emu, memory.clone());
    let (one, two) = (DirCheckpoints::new(dir.to_path_buf()), DirCheckpoints::new(dir.to_path_buf()));
    let (in_one, in_two) = (uploader_with(&emu, one), uploader_with(&emu, two));
    for (case, refusals) in [
        (
            "one store",
            refused_while_running(&shared, &shared, &target(&emu, ServiceKind::Ufile, "a.bin"), &bytes).await,
        ),
        (
            "one directory",
            refused_while_running(&in_one, &in_two, &target(&emu, ServiceKind::Ufile, "b.bin"), &bytes).await,
        ),
    ] {
        for err in refusals {
            assert_eq!(err.code(), Some(yunup::engine::IN_PROGRESS), "{case}: {err}");
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{case}");
            assert!(err.message().contains("already being uploaded"), "{case}: {err}");
        }
    }
    set_faults(&emu, "{}").await;
    // Released: the second store's upload now goes (and a different fingerprint never waited).
    let t = target(&emu, ServiceKind::Ufile, "b.bin");
    let options = UploadOptions::default();
    let mut source = BytesSource::new(bytes.clone()).with_fingerprint("v1");
    in_two.upload(&mut source, &t, &options, &Control::new(), &mut |_| {}).await.expect("after the first ended");
}

/// A commit whose reply is cut off once: its retry finds the session closed. UFile looks at the
/// object (a signed HEAD) and reports the upload done; WCS and Wantu cannot look from the
/// uploading side, and say that the object may be stored (`commit-unconfirmed`), not that the
/// upload failed. Either way no checkpoint is left for a resume that could only fail.
#[tokio::test(flavor = "current_thread")]
async fn a_commit_whose_reply_is_lost_is_confirmed_or_reported_unconfirmed() {
    let emu = Emulator::fresh("engine-lost-commit", &[]);
    let up = uploader_with(&emu, std::rc::Rc::new(MemoryCheckpoints::default()));
    let http = reqwest::Client::new();
    let bytes = data(2 * 4 * MIB + 1, 9);
    for (service, commit) in
        [(ServiceKind::Wcs, "/mkfile"), (ServiceKind::Ufile, "?uploadId="), (ServiceKind::Wantu, "blockComplete")]
    {
        let faults = format!(
            r#"{{"truncateRate":1,"maxFaults":1,"method":"POST","services":["{}"],"pathContains":"{commit}"}}"#,
            service.as_str()
        );
        let r = http.put(format!("{}/admin/faults", emu.demo)).body(faults).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let key = format!("lost/{}.bin", service.as_str());
        let t = target(&emu, service, &key);
        let mut source = BytesSource::new(bytes.clone()).with_fingerprint("v1");
        let result = up.upload(&mut source, &t, &UploadOptions::default(), &Control::new(), &mut |_| {}).await;
        match (service, result) {
            (ServiceKind::Ufile, Ok(done)) => assert_eq!(done.etag, expected_etag(service, &bytes)),
            (ServiceKind::Ufile, Err(e)) => panic!("UFile: {e}"),
            (_, Ok(_)) => panic!("{service:?}: the retried commit cannot have succeeded"),
            (_, Err(e)) => {
                assert_eq!(e.code(), Some(yunup::engine::COMMIT_UNCONFIRMED), "{service:?}: {e}");
                assert!(e.message().contains(&format!("{key:?} may have been stored")), "{e}");
            }
        }
        assert!(read_back(&emu, service, &key).await == bytes, "{service:?}: the first commit stored it");
        assert!(up.pending(service, &t.endpoint, &t.bucket).await.is_empty(), "{service:?}");
    }
    http.put(format!("{}/admin/faults", emu.demo)).body("{}").send().await.unwrap();
}

/// The path fragment and method of each service's whole-object upload.
fn simple_upload_request(service: ServiceKind, key: &str) -> (String, &'static str) {
    match service {
        ServiceKind::Wcs => ("/file/upload".into(), "POST"),
        ServiceKind::Ufile => (format!("/public/{key}"), "PUT"),
        ServiceKind::Wantu => ("/api/proxy/upload".into(), "POST"),
    }
}

/// A whole-object upload whose reply is cut off once was stored by the service, so its retry
/// finds the key taken where the token may not replace it (WCS: a key-scoped token without
/// `overwrite`): that says the object may be stored (`commit-unconfirmed`), not that the key is
/// taken. Where the token may replace it (UFile; Wantu without `insertOnly`) the retry succeeds.
#[tokio::test(flavor = "current_thread")]
async fn a_simple_upload_whose_reply_is_lost_is_stored_or_reported_unconfirmed() {
    let emu = Emulator::fresh("engine-lost-simple", &[]);
    let up = uploader(&emu);
    let bytes = data(1000, 3);
    for service in SERVICES {
        let key = format!("lost-simple/{}.bin", service.as_str());
        let (path, method) = simple_upload_request(service, &key);
        let faults = format!(
            r#"{{"truncateRate":1,"maxFaults":1,"method":"{method}","services":["{}"],"pathContains":"{path}"}}"#,
            service.as_str()
        );
        set_faults(&emu, &faults).await;
        let t = target(&emu, service, &key);
        let mut source = BytesSource::new(bytes.clone());
        let result = up.upload(&mut source, &t, &UploadOptions::default(), &Control::new(), &mut |_| {}).await;
        match (service, result) {
            (ServiceKind::Wcs, Ok(_)) => panic!("WCS: the retry cannot have replaced the object"),
            (ServiceKind::Wcs, Err(e)) => {
                assert_eq!(e.code(), Some(yunup::engine::COMMIT_UNCONFIRMED), "{e}");
                assert!(e.message().contains(&format!("{key:?} may have been stored")), "{e}");
            }
            (_, Ok(done)) => assert_eq!(done.etag, expected_etag(service, &bytes)),
            (_, Err(e)) => panic!("{service:?}: {e}"),
        }
        assert!(read_back(&emu, service, &key).await == bytes, "{service:?}: stored by the first attempt");
    }
    set_faults(&emu, "{}").await;
}

/// A whole-object upload whose body is damaged on the way: UFile (`Content-MD5`) and Wantu
/// (`md5`) refuse it and it is sent again; WCS stores it (its form upload has no checksum), the
/// reply's etag shows it, and it is sent again, which replaces it where the token allows that
/// and otherwise ends as `stored-damaged`, saying to delete the object.
#[tokio::test(flavor = "current_thread")]
async fn a_simple_upload_damaged_on_the_way_is_sent_again_or_reported_stored_damaged() {
    let emu = Emulator::fresh("engine-damaged-simple", &[]);
    let up = uploader(&emu);
    let bytes = data(1000, 5);
    let damage_once = |service: ServiceKind, key: &str| {
        let (path, method) = simple_upload_request(service, key);
        format!(
            r#"{{"corruptRate":1,"maxFaults":1,"method":"{method}","services":["{}"],"pathContains":"{path}"}}"#,
            service.as_str()
        )
    };
    for service in SERVICES {
        let key = format!("damaged/{}.bin", service.as_str());
        set_faults(&emu, &damage_once(service, &key)).await;
        let t = target(&emu, service, &key);
        let result = up
            .upload(&mut BytesSource::new(bytes.clone()), &t, &UploadOptions::default(), &Control::new(), &mut |_| {})
            .await;
        match (service, result) {
            (ServiceKind::Wcs, Ok(_)) => panic!("WCS: the token does not allow replacing the damaged object"),
            (ServiceKind::Wcs, Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
                assert_eq!(e.code(), Some(yunup::engine::STORED_DAMAGED), "{e}");
                assert!(e.message().contains("delete the object"), "{e}");
                assert!(read_back(&emu, service, &key).await != bytes, "the damaged object is what is stored");
            }
            (_, Ok(done)) => {
                assert_eq!(done.etag, expected_etag(service, &bytes));
                assert!(read_back(&emu, service, &key).await == bytes, "{service:?}");
            }
            (_, Err(e)) => panic!("{service:?}: {e}"),
        }
    }

    // A WCS token that may replace the object: the second attempt does.
    let key = "damaged/wcs-overwrite.bin";
    set_faults(&emu, &damage_once(ServiceKind::Wcs, key)).await;
    let policy = yunup::sign::wcs::PutPolicy {
        overwrite: Some(1),
        ..yunup::sign::wcs::PutPolicy::new(format!("public:{key}"), u64::MAX / 2)
    };
    let token = yunup::sign::wcs::upload_token(&Credentials::new(AK, SK), &policy).unwrap();
    let fixed = uploader_using(yunup::engine::FixedToken(token));
    let t = target(&emu, ServiceKind::Wcs, key);
    let done = fixed
        .upload(&mut BytesSource::new(bytes.clone()), &t, &UploadOptions::default(), &Control::new(), &mut |_| {})
        .await
        .expect("the second attempt replaces the damaged object");
    assert_eq!(done.etag, expected_etag(ServiceKind::Wcs, &bytes));
    assert!(read_back(&emu, ServiceKind::Wcs, key).await == bytes);
    set_faults(&emu, "{}").await;
}

/// A fixed token the service refuses (here: expired) cannot be replaced; the error is still the
/// service's (status, code, request id, message), with the reason no new token came.
#[tokio::test(flavor = "current_thread")]
async fn a_refused_fixed_token_ends_with_the_services_refusal() {
    let emu = Emulator::fresh("engine-fixed-refused", &[]);
    let signer =
        LocalSigner { credentials: Credentials::new(AK, SK), lifetime_secs: 600, runtime: TokioRuntime::default() };
    for service in [ServiceKind::Wcs, ServiceKind::Wantu] {
        let t = target(&emu, service, "fixed/expired.bin");
        let expired = signer.upload_token_until(&t, 1_000).unwrap();
        let up = uploader_using(yunup::engine::FixedToken(expired));
        let e = up
            .upload(&mut BytesSource::new(data(10, 1)), &t, &UploadOptions::default(), &Control::new(), &mut |_| {})
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{service:?}: {e}");
        assert!(e.status().is_some_and(|s| s == 401 || s == 403), "{service:?}: the service's status: {e:?}");
        assert!(e.code().is_some(), "{service:?}: the service's code: {e:?}");
        assert!(e.message().contains("refused") && e.message().contains("a fixed token cannot be replaced"), "{e}");
    }
}

/// A token URL with a query (a tenant, an API key) keeps it, after the route's own; a base URL
/// that answers a web page instead of tokens is an error that shows the page and asks about the
/// URL, not a JSON parse error (or, for UFile, a signature the service would refuse).
#[tokio::test(flavor = "current_thread")]
async fn token_urls_with_a_query_work_and_a_web_page_is_named() {
    let emu = Emulator::fresh("engine-token-url", &[]);
    let with_query = uploader_using(BackendTokens::new(format!("{}/?tenant=acme", emu.demo)).unwrap());
    for service in SERVICES {
        let key = format!("query/{}.bin", service.as_str());
        upload_checked(&with_query, &target(&emu, service, &key), &data(100, 1), &UploadOptions::default(), &key).await;
    }

    // Web pages where the token routes should be.
    let page = b"<!doctype html><title>Our shop</title>".to_vec();
    for route in ["wcs", "wantu", "ufile"] {
        let t = target(&emu, ServiceKind::Ufile, &format!("site/api/token/{route}"));
        upload_checked(&uploader(&emu), &t, &page, &UploadOptions::default(), route).await;
    }
    let site = uploader_using(BackendTokens::new(format!("{}/public/site", emu.ufile)).unwrap());
    for service in SERVICES {
        let e = refusal(&site, &target(&emu, service, "k"), &UploadOptions::default()).await;
        assert_eq!(e.kind(), ErrorKind::Auth, "{service:?}: {e}");
        assert_eq!(e.code(), Some(yunup::engine::TOKEN_BACKEND), "{service:?}: {e}");
        assert!(e.message().contains("<!doctype html>") && e.message().contains("is tokenUrl"), "{e}");
    }
}
