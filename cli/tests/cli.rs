//! The `yunup` binary as a user runs it: outputs, exit codes, one-line errors.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn yunup(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yunup"));
    cmd.args(args).env_remove("YUNUP_ACCESS_KEY").env_remove("YUNUP_SECRET_KEY");
    cmd.envs(env.iter().copied()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("yunup runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

const KEYS: &[(&str, &str)] = &[("YUNUP_ACCESS_KEY", "ak-example"), ("YUNUP_SECRET_KEY", "sk-example")];

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A failure: non-zero exit, nothing on stdout, exactly one line on stderr.
fn one_line_error(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    err
}

fn temp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yunup-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn etag_prints_one_line_per_file_in_order() {
    let a = temp_file("a.txt", b"hello world");
    let b = temp_file("b.txt", b"UMUTech@qq.com");
    let out = yunup(&["etag", a.to_str().unwrap(), b.to_str().unwrap()], &[], None);
    assert_eq!(stdout(&out), "FiqubDXJT8-0FdvpX0CLnOke6Ebt\nFpAEzHGOWdh-QAYhattxl1vqHLMw\n");
    let out = yunup(&["etag", "--kind", "ufile", "-"], &[], Some(b"hello"));
    assert_eq!(stdout(&out), "AQAAAKr0xh3cxeii2r7eDztILNmuqUNN\n");
    // Not a terminal: no progress bar output on stderr.
    assert!(out.stderr.is_empty());
}

#[test]
fn etag_failures_are_one_clear_line() {
    let err = one_line_error(&yunup(&["etag", "/nonexistent/file.bin"], &[], None), 1);
    assert!(err.contains("cannot open /nonexistent/file.bin"), "{err}");
    let err = one_line_error(&yunup(&["etag", "--kind", "md5", "x"], &[], None), 2);
    assert!(err.contains("\"wcs\" or \"ufile\""), "{err}");
    one_line_error(&yunup(&["etag"], &[], None), 2);
    let err = one_line_error(&yunup(&["etag", "--frobnicate", "x"], &[], None), 2);
    assert!(err.contains("--frobnicate"), "{err}");
}

#[test]
fn wcs_token_matches_the_spec_vector_when_given_the_exact_policy() {
    let policy = r#"{"scope":"mybucket:a.txt","deadline":"1893427200000"}"#;
    let out = yunup(&["token", "wcs", "--policy", policy], KEYS, None);
    assert_eq!(
        stdout(&out).trim(),
        "ak-example:OTg4NDBhZDUwYzZjZDdiNDYzNzJlM2I3ZjBmYWViZGJiNmRlMDZiNg==:eyJzY29wZSI6Im15YnVja2V0OmEudHh0IiwiZGVhZGxpbmUiOiIxODkzNDI3MjAwMDAwIn0="
    );
}

#[test]
fn wcs_token_from_flags_verifies() {
    let out =
        yunup(&["token", "wcs", "--scope", "b:k", "--expires-in", "60", "--policy", r#"{"overwrite":1}"#], KEYS, None);
    let token = stdout(&out);
    let creds = yunup::sign::Credentials::new("ak-example", "sk-example");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let verified = yunup::sign::wcs::verify_upload_token(token.trim(), &creds, now_ms).unwrap();
    assert_eq!(verified.policy.scope, "b:k");
    assert_eq!(verified.policy.overwrite, Some(1));
    assert!(verified.policy.deadline.unwrap() <= now_ms + 60_000);
}

#[test]
fn token_failures_are_one_clear_line() {
    let err = one_line_error(&yunup(&["token", "wcs", "--scope", "b"], &[], None), 2);
    assert!(err.contains("YUNUP_ACCESS_KEY"), "{err}");
    let err = one_line_error(&yunup(&["token", "wcs", "--scope", "b"], &[("YUNUP_ACCESS_KEY", "ak")], None), 2);
    assert!(err.contains("YUNUP_SECRET_KEY"), "{err}");
    let err = one_line_error(&yunup(&["token", "wcs", "--scope", "b", "--policy", "{oops"], KEYS, None), 2);
    assert!(err.contains("--policy is not valid JSON"), "{err}");
    let err = one_line_error(&yunup(&["token", "wcs", "--scope", "b", "--policy", r#"{"scop":"x"}"#], KEYS, None), 2);
    assert!(err.contains("unknown fields: scop"), "{err}");
    let err = one_line_error(&yunup(&["token", "wcs", "--policy", r#"{"scope":"b"}"#], KEYS, None), 2);
    assert!(err.contains("deadline"), "{err}");
    // Past i64 milliseconds: a clear refusal, not a negative expiration.
    let args = ["token", "wantu", "--namespace", "ns", "--expires-in", "9300000000000000"];
    let err = one_line_error(&yunup(&args, KEYS, None), 2);
    assert!(err.contains("--expires-in is too large"), "{err}");
    let err = one_line_error(&yunup(&["token", "wcs"], KEYS, None), 2);
    assert!(err.contains("--scope"), "{err}");
    // The secret never shows up in an error.
    let err = one_line_error(&yunup(&["token", "wcs", "--policy", "[1]"], KEYS, None), 2);
    assert!(!err.contains("sk-example"));
}

#[test]
fn credentials_file_and_flags() {
    let file = temp_file("keys.env", b"# test keys\nYUNUP_ACCESS_KEY=ak-example\nYUNUP_SECRET_KEY=sk-example\n");
    let policy = r#"{"scope":"mybucket:a.txt","deadline":"1893427200000"}"#;
    let from_file =
        stdout(&yunup(&["token", "wcs", "--policy", policy, "--credentials-file", file.to_str().unwrap()], &[], None));
    let from_env = stdout(&yunup(&["token", "wcs", "--policy", policy], KEYS, None));
    let from_flags = stdout(&yunup(
        &["token", "wcs", "--policy", policy, "--access-key", "ak-example", "--secret-key", "sk-example"],
        &[],
        None,
    ));
    assert_eq!(from_file, from_env);
    assert_eq!(from_flags, from_env);
    let err =
        one_line_error(&yunup(&["token", "wcs", "--scope", "b", "--credentials-file", "/nonexistent"], &[], None), 2);
    assert!(err.contains("cannot read credentials file"), "{err}");
}

#[test]
fn wcs_management_signature_vector() {
    let out = yunup(&["sign", "wcs", "--url", "http://mgr.example/stat/bXlidWNrZXQ6YS50eHQ="], KEYS, None);
    assert_eq!(stdout(&out).trim(), "ak-example:MjhkZGM5MGNhOTY5MzZjOGJlYWRjYjI2OTE4ZjVhNzNkOWZiOTBhMg==");
}

#[test]
fn ufile_sign_and_presign() {
    let keys = &[("YUNUP_ACCESS_KEY", "pub"), ("YUNUP_SECRET_KEY", "test-private-key")];
    let out = yunup(
        &[
            "sign",
            "ufile",
            "--method",
            "PUT",
            "--bucket",
            "demobucket",
            "--key",
            "demokey",
            "--content-type",
            "image/jpeg",
        ],
        keys,
        None,
    );
    assert_eq!(stdout(&out).trim(), "UCloud pub:k0ft/BmcNWgSWSxGRhSq7VikWLI=");
    let out = yunup(
        &[
            "presign",
            "ufile",
            "--bucket",
            "b",
            "--key",
            "dir/a b.jpg",
            "--expires-in",
            "600",
            "--base-url",
            "http://b.localhost:9102",
        ],
        keys,
        None,
    );
    let url = stdout(&out);
    assert!(url.starts_with("http://b.localhost:9102/dir/a%20b.jpg?"), "{url}");
    assert!(url.contains("UCloudPublicKey=pub") && url.contains("Signature=") && url.contains("Expires="), "{url}");
    // Without --base-url: the bucket's HTTPS origin (a presigned URL seen on the wire can be used
    // by anyone until it expires, and an http:// one is blocked in an https page).
    let out = yunup(&["presign", "ufile", "--bucket", "b", "--key", "k", "--expires-in", "60"], keys, None);
    assert!(stdout(&out).starts_with("https://b.cn-bj.ufileos.com/k?"));
    one_line_error(&yunup(&["presign", "ufile", "--bucket", "b", "--key", "k"], keys, None), 2);
}

/// `yunup ... | head -c0`: the reader went away before the line was written. The command stops
/// quietly (exit 0, nothing on stderr) instead of panicking on the closed pipe.
#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let a = temp_file("closed.txt", b"hello world");
    let commands: [&[&str]; 5] = [
        &["etag", a.to_str().unwrap()],
        &["token", "wcs", "--scope", "b:k", "--expires-in", "60"],
        &["sign", "wcs", "--url", "http://mgr.example/stat/bXlidWNrZXQ6YS50eHQ="],
        &["sign", "ufile", "--method", "GET", "--bucket", "b", "--key", "k"],
        &["presign", "ufile", "--bucket", "b", "--key", "k", "--expires-in", "60"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_yunup"));
        cmd.args(args).envs(KEYS.iter().copied()).stdin(Stdio::null()).stdout(writer).stderr(Stdio::piped());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!((out.status.code(), stderr.as_ref()), (Some(0), ""), "{args:?}");
    }
}
