//! `yunup upload` as a user runs it, against a real `yunup-emulator` process: every service with
//! local keys and with a token backend, Ctrl-C then resume, the options, the failures. (The
//! emulator harness is in `common/`.)

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{AK, Emulator, SERVICES, SK, data, etag as expected_etag, http, one_line_error, temp_dir};
use yunup::engine::Transport as _;
use yunup::runtime::native::ReqwestTransport;
use yunup::service::{HttpRequest, Method};

const MIB: usize = 1024 * 1024;
const PAUSED: &str = "yunup: paused; run the same command again to resume\n";

// --- the emulator, as these tests use it ----------------------------------------------------------

impl Emulator {
    /// The object's bytes through the service's download route.
    fn read_back(&self, service: &str, key: &str) -> Vec<u8> {
        let base = match service {
            "wcs" => &self.wcs,
            "ufile" => &self.ufile,
            _ => &self.wantu,
        };
        let url = format!("{base}/public/{}", yunup::encoding::percent_encode(key, true));
        let (status, body) = http(Method::Get, &url, "");
        assert_eq!(status, 200, "GET {url}");
        body
    }

    /// Successful part requests of `service` logged since the last call.
    fn part_requests(&self, service: &str) -> usize {
        let markers: &[&str] = match service {
            "wcs" => &["/mkblk/"],
            "ufile" => &["PUT /public/"],
            _ => &["/api/proxy/blockInit", "/api/proxy/blockUpload"],
        };
        self.log_lines()
            .iter()
            .filter(|line| {
                line.starts_with(service) && markers.iter().any(|m| line.contains(m)) && line.contains(" 200 ")
            })
            .count()
    }
}

// --- the command ----------------------------------------------------------------------------------

/// `yunup` with a clean environment: no keys unless given, and the default checkpoint directory
/// under `state` (never the real home).
fn yunup(args: &[&str], env: &[(&str, &str)], state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yunup"));
    cmd.args(args).env_remove("YUNUP_ACCESS_KEY").env_remove("YUNUP_SECRET_KEY");
    cmd.env("XDG_STATE_HOME", state).envs(env.iter().copied());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

const KEYS: &[(&str, &str)] = &[("YUNUP_ACCESS_KEY", AK), ("YUNUP_SECRET_KEY", SK)];

fn run(args: &[&str], env: &[(&str, &str)], state: &Path) -> Output {
    yunup(args, env, state).output().expect("yunup runs")
}

/// The success line: one JSON object on stdout, nothing on stderr (not a terminal: no bar).
fn success(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status.code());
    assert!(out.stderr.is_empty(), "stderr: {stderr}");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    serde_json::from_str(&text).unwrap()
}

fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
        .unwrap_or_default()
}

// --- the tests ------------------------------------------------------------------------------------

#[test]
fn uploads_to_every_service_with_local_keys_and_with_a_token_backend() {
    let emu = Emulator::start("round-trip");
    let dir = temp_dir("round-trip");
    let bytes = data(9 * MIB, 1);
    let file = dir.join("nine.bin");
    std::fs::write(&file, &bytes).unwrap();
    let file = file.to_str().unwrap();
    let state = dir.join("state");
    for service in SERVICES {
        let endpoint = emu.endpoint(service, "public");
        for (how, extra, env) in [("local", vec![], KEYS), ("backend", vec!["--token-url", emu.demo.as_str()], &[][..])]
        {
            let key = format!("dir/{how} {service}+ü.bin");
            let mut args = vec!["upload", "--service", service, "--endpoint", &endpoint, "--bucket", "public"];
            args.extend([file, key.as_str()]);
            args.extend(extra);
            let reply = success(&run(&args, env, &state));
            assert_eq!(reply["service"], service, "{how}");
            assert_eq!(reply["key"], key.as_str());
            assert_eq!(reply["size"], 9 * MIB as u64);
            let etag = reply["etag"].as_str().unwrap();
            assert_eq!(etag.to_ascii_uppercase(), expected_etag(service, &bytes).to_ascii_uppercase(), "{how}");
            assert!(emu.read_back(service, &key) == bytes, "{service} via {how}: the bytes differ");
        }
    }
    assert!(checkpoints(&state.join("yunup/checkpoints")).is_empty(), "finished uploads leave no checkpoint");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run the upload, send SIGINT once its checkpoint holds a part, and check the pause.
fn interrupt(args: &[&str], env: &[(&str, &str)], state: &Path, checkpoint_dir: &Path) {
    let child = yunup(args, env, state).spawn().expect("yunup runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let has_part = checkpoints(checkpoint_dir).iter().any(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            json["parts"].as_array().is_some_and(|parts| !parts.is_empty())
        });
        if has_part {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint with a finished part in {}", checkpoint_dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = one_line_error(&out, 130);
    assert_eq!(err, PAUSED);
    assert_eq!(checkpoints(checkpoint_dir).len(), 1, "the checkpoint stays for the resume");
}

#[test]
fn ctrl_c_pauses_and_the_same_command_resumes() {
    let emu = Emulator::start("resume");
    let dir = temp_dir("resume");
    let bytes = data(6 * 4 * MIB + 3, 2); // 7 parts of 4 MiB
    let file = dir.join("seven.bin");
    std::fs::write(&file, &bytes).unwrap();
    let file = file.to_str().unwrap();
    let state = dir.join("state");
    // The default directory: $XDG_STATE_HOME/yunup/checkpoints.
    let checkpoint_dir = state.join("yunup/checkpoints");
    for (service, path) in [("wcs", "/mkblk"), ("ufile", "partNumber"), ("wantu", "/api/proxy/block")] {
        let endpoint = emu.endpoint(service, "public");
        let key = format!("resume/{service}.bin");
        let args = [
            "upload",
            "--service",
            service,
            "--endpoint",
            &endpoint,
            "--bucket",
            "public",
            "--concurrency",
            "1",
            file,
            &key,
        ];
        // Slow parts, so that Ctrl-C lands mid-upload.
        emu.set_faults(&format!(
            r#"{{"stallRate":1.0,"stallMs":300,"services":["{service}"],"pathContains":"{path}"}}"#
        ));
        emu.log_lines();
        interrupt(&args, KEYS, &state, &checkpoint_dir);
        let sent_before = emu.part_requests(service);
        assert!((1..7).contains(&sent_before), "{service}: {sent_before} parts before the pause");

        emu.set_faults("{}");
        let reply = success(&run(&args, KEYS, &state));
        let sent_after = emu.part_requests(service);
        assert_eq!(sent_before + sent_after, 7, "{service}: the resume sends only the missing parts");
        assert_eq!(reply["size"], bytes.len() as u64);
        assert_eq!(
            reply["etag"].as_str().unwrap().to_ascii_uppercase(),
            expected_etag(service, &bytes).to_ascii_uppercase()
        );
        assert!(emu.read_back(service, &key) == bytes, "{service}: the bytes differ");
        assert!(checkpoints(&checkpoint_dir).is_empty(), "{service}: the finished upload's checkpoint is gone");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 7-part UFile upload of a new file in `dir` to `key` (checkpoints in `dir/ck`, state in
/// `dir/state`), paused by Ctrl-C once a part is confirmed: the file's bytes and the arguments.
fn paused_ufile_upload(emu: &Emulator, dir: &Path, seed: u8, key: &str) -> (Vec<u8>, Vec<String>) {
    let bytes = data(6 * 4 * MIB + 3, seed);
    let file = dir.join("seven.bin");
    std::fs::write(&file, &bytes).unwrap();
    let checkpoint_dir = dir.join("ck");
    let endpoint = emu.endpoint("ufile", "public");
    let mut args = vec!["upload", "--service", "ufile", "--endpoint", &endpoint, "--bucket", "public"];
    args.extend(["--concurrency", "1", "--checkpoint-dir", checkpoint_dir.to_str().unwrap()]);
    args.extend([file.to_str().unwrap(), key]);
    emu.set_faults(r#"{"stallRate":1.0,"stallMs":300,"services":["ufile"],"pathContains":"partNumber"}"#);
    interrupt(&args, KEYS, &dir.join("state"), &checkpoint_dir);
    emu.set_faults("{}");
    (bytes, args.into_iter().map(str::to_owned).collect())
}

#[test]
fn no_resume_starts_over_and_keeps_nothing() {
    let emu = Emulator::start("no-resume");
    let dir = temp_dir("no-resume");
    let state = dir.join("state");
    // Paused with a checkpoint in --checkpoint-dir ...
    let (bytes, args) = paused_ufile_upload(&emu, &dir, 3, "again.bin");
    emu.part_requests("ufile");
    // ... which --no-resume ignores: every part is sent again.
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--no-resume");
    success(&run(&args, KEYS, &state));
    assert_eq!(emu.part_requests("ufile"), 7);
    assert!(emu.read_back("ufile", "again.bin") == bytes);
    assert!(!state.join("yunup").exists(), "no default checkpoint directory was made");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--discard` gives up a paused upload without sending the file: the session is aborted on the
/// service, the checkpoint removed, and the next upload starts over. A second discard finds
/// nothing.
#[test]
fn discard_gives_up_a_paused_upload() {
    let emu = Emulator::start("discard");
    let dir = temp_dir("discard");
    let (state, checkpoint_dir) = (dir.join("state"), dir.join("ck"));
    let (_, args) = paused_ufile_upload(&emu, &dir, 4, "given-up.bin");
    emu.log_lines();

    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--discard");
    let reply = success(&run(&args, KEYS, &state));
    assert_eq!(reply, serde_json::json!({"service": "ufile", "key": "given-up.bin", "discarded": true}));
    assert!(checkpoints(&checkpoint_dir).is_empty(), "the checkpoint is removed");
    let lines = emu.log_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("ufile DELETE /public/given-up.bin") && l.contains(" 200 ")),
        "the multipart upload was aborted on the service: {lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("partNumber")), "no part was sent: {lines:?}");
    let (status, _) = http(Method::Get, &format!("{}/public/given-up.bin", emu.ufile), "");
    assert_eq!(status, 404, "nothing was stored");

    let reply = success(&run(&args, KEYS, &state));
    assert_eq!(reply["discarded"], false, "nothing left to discard");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn part_size_chunk_size_and_mime_reach_the_service() {
    let emu = Emulator::start("options");
    let dir = temp_dir("options");
    let bytes = data(9 * MIB, 4);
    let file = dir.join("nine.bin");
    std::fs::write(&file, &bytes).unwrap();
    let file = file.to_str().unwrap();
    let state = dir.join("state");
    let endpoint = emu.endpoint("wcs", "public");
    emu.log_lines();
    let args = [
        "upload",
        "--service",
        "wcs",
        "--endpoint",
        &endpoint,
        "--bucket",
        "public",
        "--part-size",
        "8M",
        "--chunk-size",
        "1MiB",
        "--concurrency",
        "2",
        "--mime",
        "text/x-yunup",
        file,
        "opts.bin",
    ];
    success(&run(&args, KEYS, &state));
    let lines = emu.log_lines();
    let count = |marker: &str| lines.iter().filter(|l| l.contains(marker) && l.contains(" 200 ")).count();
    // 9 MiB in 8 MiB blocks of 1 MiB chunks: block 0 is mkblk + 7 bput, block 1 one mkblk.
    assert_eq!((count("/mkblk/"), count("/bput/")), (2, 7), "{lines:#?}");
    assert!(emu.read_back("wcs", "opts.bin") == bytes);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let head = rt
        .block_on(
            ReqwestTransport::new()
                .unwrap()
                .send(HttpRequest::new(Method::Head, format!("{}/public/opts.bin", emu.wcs))),
        )
        .unwrap();
    assert_eq!(head.header("content-type"), Some("text/x-yunup"));

    // Wantu in 1 MiB parts: ten part requests for 9 MiB + 1 byte.
    let bytes = data(9 * MIB + 1, 5);
    std::fs::write(dir.join("ten.bin"), &bytes).unwrap();
    let endpoint = emu.endpoint("wantu", "public");
    let ten = dir.join("ten.bin");
    let args =
        ["upload", "--service", "wantu", "--endpoint", &endpoint, "--bucket", "public", "--part-size", "1048576"];
    let mut args = args.to_vec();
    args.extend([ten.to_str().unwrap(), "d/ten.bin"]);
    success(&run(&args, KEYS, &state));
    assert_eq!(emu.part_requests("wantu"), 10);
    assert!(emu.read_back("wantu", "d/ten.bin") == bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_mistakes_are_one_line_with_exit_2() {
    let dir = temp_dir("usage");
    let file = dir.join("f.bin");
    std::fs::write(&file, b"hello").unwrap();
    let file = file.to_str().unwrap();
    let state = dir.join("state");
    let base = ["upload", "--endpoint", "http://127.0.0.1:9", "--bucket", "b"];
    let case = |extra: &[&str], env: &[(&str, &str)], expect: &str| {
        let mut args = base.to_vec();
        args.extend(extra);
        let err = one_line_error(&run(&args, env, &state), 2);
        assert!(err.contains(expect), "{args:?}: {err}");
    };
    case(&["--service", "s3", file, "k"], KEYS, "unknown service \"s3\"");
    case(&["--service", "wcs", "/nonexistent/f.bin", "k"], KEYS, "/nonexistent/f.bin does not exist");
    case(&["--service", "wcs", dir.to_str().unwrap(), "k"], KEYS, "is a directory");
    case(&["--service", "wcs", file, ""], KEYS, "KEY is empty");
    case(&["--service", "wcs", "--concurrency", "0", file, "k"], KEYS, "--concurrency");
    case(&["--service", "wcs", "--part-size", "5M", file, "k"], KEYS, "multiple of 4 MiB");
    case(&["--service", "wcs", "--part-size", "8G", file, "k"], KEYS, "up to 1 GiB");
    case(&["--service", "wcs", "--part-size", "0", file, "k"], KEYS, "--part-size");
    case(&["--service", "wantu", "--part-size", "20M", file, "k"], KEYS, "Wantu part size");
    case(&["--service", "ufile", "--part-size", "4M", file, "k"], KEYS, "does not apply to UFile");
    case(&["--service", "ufile", "--chunk-size", "1M", file, "k"], KEYS, "WCS only");
    case(&["--service", "wcs", file, "k"], &[], "no access key");
    case(&["--service", "wcs", file, "k"], &[("YUNUP_ACCESS_KEY", AK)], "no secret key");
    case(&["--service", "wcs", "--token-url", "ftp://x", file, "k"], &[], "--token-url");
    case(&["--service", "wcs", "--token-url", "http://x", "--secret-key", SK, file, "k"], &[], "cannot be used with");
    case(&["--service", "wcs", file], KEYS, "KEY");
    let mut args = vec!["upload", "--endpoint", "ftp://h", "--bucket", "b", "--service", "wcs", file, "k"];
    let err = one_line_error(&run(&args, KEYS, &state), 2);
    assert!(err.contains("--endpoint"), "{err}");
    args.truncate(2);
    one_line_error(&run(&args, KEYS, &state), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn failures_name_the_kind_and_exit_1() {
    let emu = Emulator::start("failures");
    let dir = temp_dir("failures");
    let file = dir.join("f.bin");
    std::fs::write(&file, data(5 * MIB, 6)).unwrap();
    let file = file.to_str().unwrap();
    let state = dir.join("state");
    let wcs = emu.endpoint("wcs", "public");
    let upload = |endpoint: &str, bucket: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["upload", "--service", "wcs", "--endpoint", endpoint, "--bucket", bucket, file, "k"];
        args.extend(extra);
        run(&args, env, &state)
    };
    // Keys the service does not know.
    let wrong = [("YUNUP_ACCESS_KEY", AK), ("YUNUP_SECRET_KEY", "not-the-secret")];
    let err = one_line_error(&upload(&wcs, "public", &[], &wrong), 1);
    assert!(err.contains("upload failed (auth)") && err.contains("secret key"), "{err}");
    // A backend that does not serve the bucket.
    let err = one_line_error(&upload(&wcs, "nope", &["--token-url", &emu.demo], &[]), 1);
    assert!(err.contains("upload failed (auth)") && err.contains("--token-url"), "{err}");
    // A UFile endpoint without the bucket: the service's own refusal, not a usage mistake.
    let ufile = emu.ufile.clone();
    let args = ["upload", "--service", "ufile", "--endpoint", &ufile, "--bucket", "public", file, "k"];
    let err = one_line_error(&run(&args, KEYS, &state), 1);
    assert!(err.contains("upload failed"), "{err}");
    // Nothing listens: a network failure after the retries.
    let err = one_line_error(&upload("http://127.0.0.1:9", "public", &[], KEYS), 1);
    assert!(err.contains("upload failed (network)") && err.contains("--endpoint"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
