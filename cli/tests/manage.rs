//! The management commands (`ls`, `stat`, `rm`, `cp`, `mv`, `expire`, `fetch`, `jobs`, `download`,
//! `bucket`, `folder`) as a user runs them, against a real `yunup-emulator` process: every command
//! for every service where it applies, `--json` parsed and checked, human output checked loosely,
//! and every failure one line with the right exit code.
//! (The emulator harness is in `common/`.)

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{AK, Emulator, SERVICES, SK, data, etag, one_line_error, temp_dir};
use serde_json::Value;

impl Emulator {
    /// `--service S --endpoint URL` for object commands on any bucket (UFile: path style with the
    /// `{bucket}` placeholder, which the command fills in).
    fn svc(&self, service: &str) -> Vec<String> {
        vec!["--service".into(), service.into(), "--endpoint".into(), self.endpoint(service, "{bucket}")]
    }
}

// --- the command ----------------------------------------------------------------------------------

/// `yunup` with the test keys in the environment (or none with `keys: false`), in `cwd`.
fn yunup_in(args: &[String], keys: bool, cwd: Option<&Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yunup"));
    cmd.args(args).env_remove("YUNUP_ACCESS_KEY").env_remove("YUNUP_SECRET_KEY");
    if keys {
        cmd.env("YUNUP_ACCESS_KEY", AK).env("YUNUP_SECRET_KEY", SK);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.env("XDG_STATE_HOME", std::env::temp_dir().join("yunup-cli-manage-state"));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// `yunup COMMAND... <service flags> REST...` with the keys.
fn run(emu: &Emulator, command: &[&str], service: &str, rest: &[&str]) -> Output {
    run_with(emu, command, service, rest, true)
}

fn run_with(emu: &Emulator, command: &[&str], service: &str, rest: &[&str], keys: bool) -> Output {
    let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    args.extend(emu.svc(service));
    args.extend(rest.iter().map(|s| s.to_string()));
    yunup_in(&args, keys, None).output().expect("yunup runs")
}

/// Success: exit 0, nothing on stderr (not a terminal: no progress bar); the stdout text.
fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status.code());
    assert!(out.stderr.is_empty(), "stderr: {stderr}");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(!text.contains(SK), "the secret key is never printed");
    text
}

/// Success with one JSON document on one line.
fn doc(out: &Output) -> Value {
    let text = ok(out);
    assert_eq!(text.lines().count(), 1, "one line: {text:?}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Success with one JSON document per line.
fn lines(out: &Output) -> Vec<Value> {
    ok(out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// Store `bytes` as `bucket/key` with `yunup upload`.
fn put(emu: &Emulator, service: &str, bucket: &str, key: &str, bytes: &[u8]) {
    let dir = temp_dir("put");
    let file = dir.join("object.bin");
    std::fs::write(&file, bytes).unwrap();
    let endpoint = emu.endpoint(service, bucket);
    let args: Vec<String> =
        ["upload", "--service", service, "--endpoint", &endpoint, "--bucket", bucket, file.to_str().unwrap(), key]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let out = yunup_in(&args, true, None).output().unwrap();
    assert!(out.status.success(), "upload {service} {key}: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

fn keys_of(items: &[Value]) -> Vec<String> {
    items.iter().filter_map(|i| i["key"].as_str().map(str::to_owned)).collect()
}

fn prefixes_of(items: &[Value]) -> Vec<String> {
    items.iter().filter_map(|i| i["prefix"].as_str().map(str::to_owned)).collect()
}

fn count(lines: &[String], service: &str, needle: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(service) && l.contains(needle)).count()
}

// --- the tests ------------------------------------------------------------------------------------

const TREE: [&str; 5] = ["a/1.txt", "a/2.txt", "a/sub/3.txt", "b.txt", "c.txt"];

#[test]
fn ls_lists_every_service_page_by_page() {
    let emu = Emulator::start("ls");
    for service in SERVICES {
        for (n, key) in TREE.iter().enumerate() {
            put(&emu, service, "public", key, &data(10 + n, n as u8));
        }
    }
    for service in SERVICES {
        let all = lines(&run(&emu, &["ls"], service, &["public", "--json"]));
        if service == "wantu" {
            // One folder at a time: its sub-folders, then its files.
            assert_eq!(prefixes_of(&all), ["a/"], "{service}");
            assert_eq!(keys_of(&all), ["b.txt", "c.txt"]);
        } else {
            assert_eq!(keys_of(&all), TREE, "{service}");
        }
        let b = all.iter().find(|i| i["key"] == "b.txt").unwrap();
        assert_eq!(b["size"], 13, "{service}");
        assert_eq!(b["etag"].as_str().unwrap().to_ascii_uppercase(), etag(service, &data(13, 3)).to_ascii_uppercase());
        assert!(b["modified"].as_str().is_some_and(|m| m.ends_with('Z') && m.len() == 20), "{b}");

        // A prefix, directory mode, a limit.
        let (under_a, dirs) = if service == "wantu" {
            (lines(&run(&emu, &["ls"], service, &["public/a", "--json"])), None)
        } else {
            let flat = lines(&run(&emu, &["ls"], service, &["public/a/", "--json"]));
            assert_eq!(keys_of(&flat), ["a/1.txt", "a/2.txt", "a/sub/3.txt"], "{service}");
            (lines(&run(&emu, &["ls"], service, &["public/a/", "--json", "--dirs"])), Some(()))
        };
        assert_eq!(keys_of(&under_a), ["a/1.txt", "a/2.txt"], "{service} {dirs:?}");
        assert_eq!(prefixes_of(&under_a), ["a/sub/"], "{service}");
        let limited = lines(&run(&emu, &["ls"], service, &["public", "--json", "--limit", "2"]));
        assert_eq!(limited.len(), 2, "{service}");

        // Small pages: every entry, one request per page, printed as they come.
        emu.log_lines();
        let paged = lines(&run(&emu, &["ls"], service, &["public", "--json", "--page-size", "2"]));
        assert_eq!(paged, all, "{service}: the same listing in pages of 2");
        let log = emu.log_lines();
        let requests = match service {
            "wcs" => count(&log, "wcs", "GET /list "),
            "ufile" => count(&log, "ufile", "GET /public/ "),
            _ => count(&log, "wantu", "GET /3.0/files ") + count(&log, "wantu", "GET /3.0/folders "),
        };
        // WCS and UFile: 5 keys in pages of 2. Wantu: 1 folder page, 2 files in 1 page.
        let expected = if service == "wantu" { 2 } else { 3 };
        assert_eq!(requests, expected, "{service}: {log:?}");

        // Human: a heading, aligned columns, human sizes, DIR lines.
        let text = ok(&run(&emu, &["ls"], service, &["public"]));
        let mut rows = text.lines();
        let heading = rows.next().unwrap();
        assert!(heading.contains("SIZE") && heading.ends_with("KEY"), "{heading}");
        let key_column = heading.find("KEY").unwrap();
        for row in rows {
            assert!(row.len() > key_column, "{row}");
            assert!(!row[key_column..].starts_with(' '), "keys line up under KEY: {text}");
        }
        assert!(text.contains("      13 B  ") && text.contains("b.txt"), "{text}");
        if service == "wantu" {
            assert!(text.lines().any(|l| l.trim_start().starts_with("DIR") && l.ends_with("a/")), "{text}");
        }
        let empty = ok(&run(&emu, &["ls"], service, &["public/nothing-here/"]));
        assert_eq!(empty.lines().count(), 1, "only the heading: {empty:?}");
    }
}

/// Each `(command, service, rest, says)` is a usage error (exit 2, one line containing `says`)
/// refused before any request reaches the emulator.
fn refused_before_sending(emu: &Emulator, cases: &[(&str, &str, &[&str], &str)]) {
    emu.log_lines();
    for (command, service, rest, says) in cases {
        let err = one_line_error(&run(emu, &[command], service, rest), 2);
        assert!(err.contains(says), "{command} {service} {rest:?}: {err}");
    }
    assert!(emu.log_lines().is_empty(), "nothing was sent");
}

#[test]
fn stat_rm_cp_mv_and_expire() {
    let emu = Emulator::start("objects");
    let bytes = data(5000, 7);
    for service in SERVICES {
        put(&emu, service, "public", "dir/one.bin", &bytes);
        put(&emu, service, "public", "two.bin", b"two");
        let info = doc(&run(&emu, &["stat"], service, &["public", "dir/one.bin", "--json"]));
        assert_eq!(info["key"], "dir/one.bin", "{service}");
        assert_eq!(info["size"], 5000);
        assert_eq!(info["etag"].as_str().unwrap().to_ascii_uppercase(), etag(service, &bytes).to_ascii_uppercase());
        assert!(info["mime"].is_string() && info["modified"].is_string(), "{info}");
        let text = ok(&run(&emu, &["stat"], service, &["public", "dir/one.bin"]));
        assert!(text.contains("size:") && text.contains("4.9 KiB (5000 bytes)") && text.contains(" UTC"), "{text}");
        let err = one_line_error(&run(&emu, &["stat"], service, &["public", "missing.bin"]), 1);
        assert!(err.contains("no object \"missing.bin\""), "{err}");

        // Several keys, JSON lines; then they are gone.
        let done = lines(&run(&emu, &["rm"], service, &["public", "dir/one.bin", "two.bin", "--json"]));
        assert_eq!(keys_of(&done), ["dir/one.bin", "two.bin"]);
        assert!(done.iter().all(|d| d["deleted"] == true));
        for key in ["dir/one.bin", "two.bin"] {
            one_line_error(&run(&emu, &["stat"], service, &["public", key]), 1);
        }
        if service != "ufile" {
            // UFile answers 204 for a key that is not there (as S3 does).
            let err = one_line_error(&run(&emu, &["rm"], service, &["public", "two.bin"]), 1);
            assert!(err.contains("no object \"two.bin\""), "{err}");
        }
    }

    // WCS: copy across buckets, move, expire.
    put(&emu, "wcs", "public", "src.txt", b"source");
    let copied = doc(&run(&emu, &["cp"], "wcs", &["public", "src.txt", "priv", "copy.txt", "--json"]));
    assert_eq!(copied["operation"], "copy");
    assert_eq!((copied["dst_bucket"].as_str(), copied["dst_key"].as_str()), (Some("priv"), Some("copy.txt")));
    assert_eq!(doc(&run(&emu, &["stat"], "wcs", &["priv", "copy.txt", "--json"]))["size"], 6);
    assert_eq!(doc(&run(&emu, &["stat"], "wcs", &["public", "src.txt", "--json"]))["size"], 6);
    let text = ok(&run(&emu, &["mv"], "wcs", &["priv", "copy.txt", "public", "moved.txt"]));
    assert_eq!(text, "moved priv/copy.txt to public/moved.txt\n");
    one_line_error(&run(&emu, &["stat"], "wcs", &["priv", "copy.txt"]), 1);
    assert_eq!(doc(&run(&emu, &["stat"], "wcs", &["public", "moved.txt", "--json"]))["size"], 6);
    let err = one_line_error(&run(&emu, &["cp"], "wcs", &["public", "nope", "public", "x"]), 1);
    assert!(err.contains("no object \"nope\""), "{err}");

    let set = doc(&run(&emu, &["expire"], "wcs", &["public", "moved.txt", "--days", "3", "--json"]));
    assert_eq!((set["key"].as_str(), set["days"].as_i64()), (Some("moved.txt"), Some(3)));
    let info = doc(&run(&emu, &["stat"], "wcs", &["public", "moved.txt", "--json"]));
    assert!(info["expiration_date"].is_string(), "{info}");
    let text = ok(&run(&emu, &["expire"], "wcs", &["public", "moved.txt", "--days", "-1"]));
    assert_eq!(text, "public/moved.txt never expires\n");
    assert!(doc(&run(&emu, &["stat"], "wcs", &["public", "moved.txt", "--json"]))["expiration_date"].is_null());
    one_line_error(&run(&emu, &["expire"], "wcs", &["public", "moved.txt", "--days", "-2"]), 2);
    one_line_error(&run(&emu, &["expire"], "wcs", &["public", "moved.txt"]), 2);

    // Wantu: rename within the namespace.
    put(&emu, "wantu", "public", "w.txt", b"wantu");
    let moved = doc(&run(&emu, &["mv"], "wantu", &["public", "w.txt", "public", "sub/w2.txt", "--json"]));
    assert_eq!(moved["operation"], "move");
    assert_eq!(doc(&run(&emu, &["stat"], "wantu", &["public", "sub/w2.txt", "--json"]))["size"], 5);
    one_line_error(&run(&emu, &["stat"], "wantu", &["public", "w.txt"]), 1);

    // What a service does not have: one line, exit 2, before anything is sent.
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("cp", "ufile", &["public", "a", "public", "b"][..], "UFile has no copy"),
        ("mv", "ufile", &["public", "a", "public", "b"][..], "UFile has no move"),
        ("cp", "wantu", &["public", "a", "public", "b"][..], "Wantu has no copy"),
        ("mv", "wantu", &["public", "a", "priv", "b"][..], "within one namespace"),
        ("expire", "ufile", &["public", "a", "--days", "1"][..], "UFile has no expire"),
        ("expire", "wantu", &["public", "a", "--days", "1"][..], "Wantu has no expire"),
    ];
    refused_before_sending(&emu, cases);
}

#[test]
fn fetch_and_jobs() {
    let emu = Emulator::start("jobs");
    let bytes = data(70_000, 9);
    put(&emu, "ufile", "public", "source.bin", &bytes);
    // The service downloads from a loopback URL: the emulator's own UFile public object.
    let url = format!("{}/public/source.bin", emu.ufile);
    let submitted = doc(&run(&emu, &["fetch"], "wcs", &[&url, "public", "fetched.bin", "--json"]));
    let id = submitted["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());

    // Status needs no keys (the requests are not signed).
    let status = doc(&run_with(&emu, &["jobs", "status"], "wcs", &[&id, "--json"], false));
    assert_eq!(status["id"], id.as_str());
    assert!(["queued", "processing", "done", "notifying", "notified"].contains(&status["state"].as_str().unwrap()));
    let done = doc(&run_with(&emu, &["jobs", "wait"], "wcs", &[&id, "--json", "--interval", "50"], false));
    assert_eq!((done["state"].as_str(), done["finished"].as_bool()), (Some("done"), Some(true)), "{done}");
    assert_eq!(done["items"][0]["key"], "fetched.bin");
    assert_eq!(done["items"][0]["fsize"], 70_000);
    let info = doc(&run(&emu, &["stat"], "wcs", &["public", "fetched.bin", "--json"]));
    assert_eq!(info["etag"], etag("wcs", &bytes).as_str());
    let text = ok(&run(&emu, &["jobs", "status"], "wcs", &[&id]));
    assert!(
        text.contains(&id) && text.contains("state:") && text.contains("done") && text.contains("task 1"),
        "{text}"
    );

    // fetch --wait: a source that is not there fails the job: its status, then one line, exit 1.
    let url = format!("{}/public/absent.bin", emu.ufile);
    let out = run(&emu, &["fetch"], "wcs", &[&url, "public", "absent.bin", "--wait", "--interval", "50", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["items"][0]["code"], 2, "{status}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("yunup: job ") && err.contains("failed (1 of 1 tasks)"), "{err}");

    // A fops job id is looked up with --kind fops; an unknown id is one line.
    let err = one_line_error(&run(&emu, &["jobs", "status"], "wcs", &["no-such-job"]), 1);
    assert!(err.contains("no-such-job") && err.contains("HTTP 404"), "{err}");
    one_line_error(&run(&emu, &["jobs", "status"], "wcs", &["no-such-job", "--kind", "fops"]), 1);
    // A timeout says so.
    let err = one_line_error(&run(&emu, &["jobs", "wait"], "wcs", &["no-such-job", "--timeout", "0"]), 1);
    assert!(err.contains("no-such-job"), "{err}");

    for service in ["ufile", "wantu"] {
        let err = one_line_error(&run(&emu, &["fetch"], service, &["http://example.com/a", "public", "a"]), 2);
        assert!(err.contains("has no fetch"), "{err}");
        one_line_error(&run(&emu, &["jobs", "wait"], service, &["id"]), 2);
    }
    one_line_error(&run(&emu, &["fetch"], "wcs", &["ftp://example.com/a", "public"]), 2);
    one_line_error(&run(&emu, &["fetch"], "wcs", &["http://example.com/a", "public", "--md5", "xyz"]), 2);
}

#[test]
fn rm_and_expire_by_prefix_are_jobs() {
    let emu = Emulator::start("prefix-jobs");
    for key in ["logs/a.txt", "logs/b/c.txt", "logsbook.txt", "keep/d.txt"] {
        put(&emu, "wcs", "public", key, key.as_bytes());
    }
    let expires =
        |key: &str| !doc(&run(&emu, &["stat"], "wcs", &["public", key, "--json"]))["expiration_date"].is_null();

    // A directory: logs/ objects, not logsbook.txt.
    let wait = ["--wait", "--json", "--interval", "50"];
    let done =
        doc(&run(&emu, &["expire"], "wcs", &[&["public", "--prefix", "logs", "--days", "3"][..], &wait].concat()));
    assert_eq!(done["state"], "done", "{done}");
    assert!(expires("logs/a.txt") && expires("logs/b/c.txt"));
    assert!(!expires("logsbook.txt") && !expires("keep/d.txt"));
    // The whole bucket; without --wait the job's id.
    let submitted = doc(&run(&emu, &["expire"], "wcs", &["public", "--all", "--days", "7", "--json"]));
    let id = submitted["id"].as_str().expect("a job id").to_owned();
    let done = doc(&run(&emu, &["jobs", "wait"], "wcs", &[&id, "--json", "--interval", "50"]));
    assert_eq!(done["state"], "done", "{done}");
    assert!(expires("keep/d.txt") && expires("logsbook.txt"));

    // rm --prefix is a key prefix: logs takes logsbook.txt too.
    let done = doc(&run(&emu, &["rm"], "wcs", &[&["public", "--prefix", "logs"][..], &wait].concat()));
    assert_eq!(done["state"], "done", "{done}");
    for key in ["logs/a.txt", "logs/b/c.txt", "logsbook.txt"] {
        one_line_error(&run(&emu, &["stat"], "wcs", &["public", key]), 1);
    }
    assert_eq!(doc(&run(&emu, &["stat"], "wcs", &["public", "keep/d.txt", "--json"]))["size"], 10);

    // Mistakes are refused before anything is sent.
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("rm", "wcs", &["public", "--prefix", ""][..], "--prefix is empty"),
        ("rm", "wcs", &["public", "a", "--prefix", "a"][..], "cannot be used with"),
        ("rm", "wcs", &["public", "a", "--wait"][..], "--prefix"),
        ("rm", "ufile", &["public", "--prefix", "a"][..], "UFile has no rm --prefix"),
        ("expire", "wcs", &["public", "--days", "1"][..], "required"),
        ("expire", "wcs", &["public", "--prefix", "", "--days", "1"][..], "--all"),
        ("expire", "wcs", &["public", "--prefix", "a", "--all", "--days", "1"][..], "cannot be used with"),
        ("expire", "wcs", &["public", "a", "--all", "--days", "1"][..], "cannot be used with"),
        ("expire", "wcs", &["public", "a", "--days", "1", "--wait"][..], "--wait goes with --prefix"),
        ("expire", "wcs", &["public", "--all", "--days", "-2"][..], "-2"),
    ];
    refused_before_sending(&emu, cases);
}

#[test]
fn zip_has_the_service_make_an_archive() {
    let emu = Emulator::start("zip");
    put(&emu, "wcs", "public", "z/a.bin", &data(1000, 1));
    put(&emu, "wcs", "public", "z/b.bin", &data(2000, 2));
    let done = doc(&run(
        &emu,
        &["zip"],
        "wcs",
        &["public", "z/", "--to", "public/out/all.zip", "--wait", "--json", "--interval", "50"],
    ));
    assert_eq!(done["state"], "done", "{done}");
    let info = doc(&run(&emu, &["stat"], "wcs", &["public", "out/all.zip", "--json"]));
    // Two stored entries: their bytes, a local and a central header each (each with the name), the end.
    assert_eq!(info["size"], 3000 + 2 * (30 + 46 + 2 * 7) + 22, "{info}");
    assert_eq!(done["items"][0]["fsize"], info["size"]);

    // A key that is not there fails the job: exit 1, and no archive.
    let out = run(
        &emu,
        &["zip"],
        "wcs",
        &["public", "z/a.bin", "nope", "--to", "public/out/no.zip", "--wait", "--interval", "50"],
    );
    assert_eq!(out.status.code(), Some(1));
    one_line_error(&run(&emu, &["stat"], "wcs", &["public", "out/no.zip"]), 1);

    let _ = emu.log_lines();
    one_line_error(&run(&emu, &["zip"], "wcs", &["public", "a", "--to", "secret"]), 2);
    one_line_error(&run(&emu, &["zip"], "wcs", &["public", "--to", "secret/z.zip"]), 2);
    one_line_error(&run(&emu, &["zip"], "wcs", &["public", "a", "--key-list", "l", "--to", "secret/z.zip"]), 2);
    let err = one_line_error(&run(&emu, &["zip"], "ufile", &["public", "a", "--to", "public/z.zip"]), 2);
    assert!(err.contains("has no zip"), "{err}");
    assert!(emu.log_lines().is_empty(), "nothing was sent");
}

#[test]
fn download_resumes_ranges_and_verifies() {
    let emu = Emulator::start("download");
    let dir = temp_dir("download");
    let bytes = data(3 * 1024 * 1024 + 17, 5);
    put(&emu, "ufile", "priv", "media/big.bin", &bytes);
    put(&emu, "ufile", "public", "open.bin", &bytes[..1000]);
    let file = dir.join("big.bin");
    let part_of = |file: &std::path::Path| std::path::PathBuf::from(format!("{}.yunup-part", file.display()));
    let part = part_of(&file);
    let path = file.to_str().unwrap();

    // Whole object, presigned URLs, chunk by chunk.
    let report =
        doc(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--chunk-size", "1M", "--json"]));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert_eq!((report["size"].as_u64(), report["resumed_from"].as_u64()), (Some(bytes.len() as u64), Some(0)));
    assert_eq!(report["etag"], etag("ufile", &bytes).as_str());

    assert!(!part.exists(), "the part became the file");

    // Resume: the part an earlier run left keeps its bytes and only the rest is fetched.
    let kept = 1_500_000;
    std::fs::write(&part, &bytes[..kept]).unwrap();
    emu.log_lines();
    let report =
        doc(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--chunk-size", "1M", "--json"]));
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "resumed bytes identical");
    assert_eq!(report["resumed_from"], kept);
    let fetched: usize = emu
        .log_lines()
        .iter()
        .filter(|l| l.starts_with("ufile GET /priv/media/big.bin 206"))
        .filter_map(|l| l.split("out=").nth(1)?.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(fetched, bytes.len() - kept, "only the missing bytes were fetched");
    // Resume with a chunk size as large as u64 allows: one request for the rest (the chunk end
    // overflowed before).
    std::fs::write(&part, &bytes[..kept]).unwrap();
    let huge = u64::MAX.to_string();
    let report =
        doc(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--chunk-size", &huge, "--json"]));
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "resumed with one huge chunk");
    assert_eq!(report["resumed_from"], kept);
    // Complete already: nothing more to fetch.
    let text = ok(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path]));
    assert!(text.contains("already complete"), "{text}");

    // A part from another object: found by the ETag check, downloaded again.
    let mut wrong = bytes[..kept].to_vec();
    wrong[10] ^= 0xff;
    std::fs::write(&part, &wrong).unwrap();
    let report = doc(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--json"]));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert_eq!(report["resumed_from"], 0);
    // --no-resume starts over; a longer file is replaced.
    std::fs::write(&part, &bytes[..kept]).unwrap();
    std::fs::write(&file, [bytes.clone(), b"tail".to_vec()].concat()).unwrap();
    let report = doc(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--no-resume", "--json"]));
    assert_eq!((std::fs::read(&file).unwrap(), report["resumed_from"].as_u64()), (bytes.clone(), Some(0)));
    assert!(!part.exists());

    // A range; into a directory (named after the key); resumed only from what its record vouches
    // for (the Ctrl-C case below).
    let range_file = dir.join("range.bin");
    let report = doc(&run(
        &emu,
        &["download"],
        "ufile",
        &["priv", "media/big.bin", range_file.to_str().unwrap(), "--range", "100-199", "--json"],
    ));
    assert_eq!(std::fs::read(&range_file).unwrap(), &bytes[100..200]);
    assert_eq!(report["range"], serde_json::json!([100, 199]));
    assert!(!dir.join("range.bin.yunup-range").exists(), "the record goes when the range is complete");
    // Another range into the same file: its bytes, not the first range's taken as "complete"
    // (they were before), nor a prefix of other bytes.
    for (range, expected) in [("200-299", &bytes[200..300]), ("150-", &bytes[150..])] {
        let report = doc(&run(
            &emu,
            &["download"],
            "ufile",
            &["priv", "media/big.bin", range_file.to_str().unwrap(), "--range", range, "--json"],
        ));
        assert_eq!(
            (std::fs::read(&range_file).unwrap().as_slice(), report["resumed_from"].as_u64()),
            (expected, Some(0))
        );
    }
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let text = ok(&run(
        &emu,
        &["download"],
        "ufile",
        &["priv", "media/big.bin", sub.to_str().unwrap(), "--range", "3145000-"],
    ));
    assert!(text.starts_with("downloaded priv/media/big.bin to "), "{text}");
    assert_eq!(std::fs::read(sub.join("big.bin")).unwrap(), &bytes[3_145_000..]);

    // A public bucket needs no keys; a private one refuses unsigned reads.
    let open = dir.join("open.bin");
    let report = doc(&run_with(
        &emu,
        &["download"],
        "ufile",
        &["public", "open.bin", open.to_str().unwrap(), "--public", "--json"],
        false,
    ));
    assert_eq!((std::fs::read(&open).unwrap().as_slice(), report["size"].as_u64()), (&bytes[..1000], Some(1000)));
    let err =
        one_line_error(&run_with(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--public"], false), 1);
    assert!(err.contains("private") && err.contains("drop --public"), "{err}");

    // Ctrl-C mid-download: exit 130, the part stays (and the file it will become is not there),
    // the same command finishes it. For a whole object and for a range (which its record lets
    // resume).
    for (name, range) in [("slow.bin", None), ("slow-range.bin", Some(1000))] {
        let slow = dir.join(name);
        let slow_part = part_of(&slow);
        let mut args: Vec<String> = vec!["download".into()];
        args.extend(emu.svc("ufile"));
        args.extend(["priv", "media/big.bin", slow.to_str().unwrap(), "--chunk-size", "256K"].map(String::from));
        args.extend(range.map(|a| ["--range".to_owned(), format!("{a}-")]).into_iter().flatten());
        let expected = &bytes[range.unwrap_or(0)..];
        emu.set_faults(r#"{"stallRate":1.0,"stallMs":150,"services":["ufile"],"pathContains":"big.bin"}"#);
        let child = yunup_in(&args, true, None).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::metadata(&slow_part).map(|m| m.len()).unwrap_or(0) < 512 * 1024 {
            assert!(Instant::now() < deadline, "the download never got going");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        let err = one_line_error(&out, 130);
        assert_eq!(err, "yunup: interrupted; run the same command again to resume\n");
        let partial = std::fs::metadata(&slow_part).unwrap().len() as usize;
        assert!(
            partial < expected.len() && std::fs::read(&slow_part).unwrap() == expected[..partial],
            "a clean prefix"
        );
        assert!(!slow.exists(), "no file until the download is complete");
        emu.set_faults("{}");
        let out = yunup_in(&[args, vec!["--json".into()]].concat(), true, None).output().unwrap();
        let report = doc(&out);
        assert_eq!(report["resumed_from"], partial);
        assert_eq!(std::fs::read(&slow).unwrap(), expected);
        assert!(!slow_part.exists());
    }

    // Failures.
    let err = one_line_error(&run(&emu, &["download"], "ufile", &["priv", "nope.bin", path]), 1);
    assert!(err.contains("no object \"nope.bin\""), "{err}");
    let err =
        one_line_error(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--range", "9999999-"]), 2);
    assert!(err.contains("the range starts at byte 9999999"), "{err}");
    one_line_error(&run(&emu, &["download"], "ufile", &["priv", "media/big.bin", path, "--range", "9-1"]), 2);
    one_line_error(&run(&emu, &["download"], "ufile", &["priv", "dir/"]), 2);
    for service in ["wcs", "wantu"] {
        let err = one_line_error(&run(&emu, &["download"], service, &["public", "a.bin"]), 2);
        assert!(err.contains("has no download"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn buckets_and_folders() {
    let emu = Emulator::start("buckets");
    let api = ["--service", "ufile", "--endpoint", &emu.ufile];
    let bucket = |args: &[&str]| -> Output {
        let mut all: Vec<String> = vec!["bucket".into()];
        all.extend(args.iter().map(|s| s.to_string()));
        yunup_in(&all, true, None).output().unwrap()
    };

    // WCS: the bucket list.
    let listed = lines(&bucket(&["ls", "--service", "wcs", "--endpoint", &emu.wcs, "--json"]));
    let mut names: Vec<&str> = listed.iter().map(|b| b["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["priv", "public"]);
    assert!(ok(&bucket(&["ls", "--service", "wcs", "--endpoint", &emu.wcs])).contains("public\n"));

    // UFile: the UCloud API, all of it.
    let created =
        doc(&bucket(&[&["create"], &api[..], &["made-here", "--private", "--region", "cn-sh", "--json"]].concat()));
    assert_eq!((created["name"].as_str(), created["type"].as_str()), (Some("made-here"), Some("private")));
    assert!(created["id"].as_str().is_some_and(|id| id.starts_with("ufile-")));
    let info = doc(&bucket(&[&["describe"], &api[..], &["made-here", "--json"]].concat()));
    assert_eq!((info["type"].as_str(), info["region"].as_str()), (Some("private"), Some("cn-sh")));
    assert!(info["created"].is_string() && info["domains"]["src"].is_array(), "{info}");
    let text = ok(&bucket(&[&["describe"], &api[..], &["made-here"]].concat()));
    assert!(text.contains("type:") && text.contains("private") && text.contains("region:"), "{text}");
    let set = doc(&bucket(&[&["set-public"], &api[..], &["made-here", "--json"]].concat()));
    assert_eq!(set["type"], "public");
    assert_eq!(doc(&bucket(&[&["describe"], &api[..], &["made-here", "--json"]].concat()))["type"], "public");
    assert_eq!(
        ok(&bucket(&[&["set-private"], &api[..], &["made-here"]].concat())),
        "bucket made-here is now private\n"
    );
    let all = lines(&bucket(&[&["ls"], &api[..], &["--json"]].concat()));
    let made = all.iter().find(|b| b["name"] == "made-here").expect("listed");
    assert_eq!(made["type"], "private");
    assert_eq!(all.len(), 3);
    let table = ok(&bucket(&[&["ls"], &api[..]].concat()));
    assert!(table.lines().next().unwrap().starts_with("NAME") && table.contains("made-here"), "{table}");
    let gone = doc(&bucket(&[&["rm"], &api[..], &["made-here", "--json"]].concat()));
    assert_eq!(gone["deleted"], true);
    let err = one_line_error(&bucket(&[&["describe"], &api[..], &["made-here"]].concat()), 1);
    assert!(err.contains("no bucket \"made-here\""), "{err}");
    put(&emu, "ufile", "public", "keep.txt", b"keep");
    let err = one_line_error(&bucket(&[&["rm"], &api[..], &["public"]].concat()), 1);
    assert!(err.contains("15023"), "a bucket with objects stays: {err}");
    one_line_error(&bucket(&[&["create"], &api[..], &["public"]].concat()), 1);
    let err =
        one_line_error(&bucket(&["ls", "--service", "ufile", "--endpoint", &emu.ufile, "--secret-key", "wrong"]), 1);
    assert!(err.contains("(auth)") && err.contains("171"), "{err}");

    for (args, says) in [
        (vec!["create", "--service", "wcs", "--endpoint", &emu.wcs, "x"], "WCS has no bucket creation"),
        (vec!["set-public", "--service", "wcs", "--endpoint", &emu.wcs, "x"], "WCS has no bucket access"),
        (vec!["ls", "--service", "wantu"], "Wantu has no bucket listing"),
        (vec!["rm", "--service", "wantu", "x"], "Wantu has no bucket deletion"),
    ] {
        let err = one_line_error(&bucket(&args), 2);
        assert!(err.contains(says), "{args:?}: {err}");
    }

    // Wantu folders.
    let made = doc(&run(&emu, &["folder", "create"], "wantu", &["public", "a/b", "--json"]));
    assert_eq!(made["created"], true);
    assert_eq!(doc(&run(&emu, &["folder", "exists"], "wantu", &["public", "/a/b", "--json"]))["exists"], true);
    assert_eq!(ok(&run(&emu, &["folder", "exists"], "wantu", &["public", "a"])), "true\n");
    assert_eq!(ok(&run(&emu, &["folder", "exists"], "wantu", &["public", "zz"])), "false\n");
    let listed = lines(&run(&emu, &["ls"], "wantu", &["public/a", "--json"]));
    assert_eq!(prefixes_of(&listed), ["a/b/"]);
    let err = one_line_error(&run(&emu, &["folder", "rm"], "wantu", &["public", "a"]), 1);
    assert!(err.contains("DirNotEmpty"), "{err}");
    assert_eq!(ok(&run(&emu, &["folder", "rm"], "wantu", &["public", "a/b"])), "deleted folder public:/a/b\n");
    assert_eq!(ok(&run(&emu, &["folder", "exists"], "wantu", &["public", "a/b"])), "false\n");
    for service in ["wcs", "ufile"] {
        let err = one_line_error(&run(&emu, &["folder", "create"], service, &["public", "a"]), 2);
        assert!(err.contains("has no folders"), "{err}");
    }
}

#[test]
fn keys_endpoints_and_refusals_are_one_line() {
    let emu = Emulator::start("errors");
    for service in SERVICES {
        // No keys: exit 2, before anything is sent.
        let err = one_line_error(&run_with(&emu, &["ls"], service, &["public"], false), 2);
        assert!(err.contains("no access key"), "{err}");
        // The wrong secret: the service refuses; the line names the kind, not the secret.
        let err = one_line_error(&run(&emu, &["ls"], service, &["public", "--secret-key", "not-the-secret"]), 1);
        assert!(err.contains("(auth)"), "{service}: {err}");
        let err = one_line_error(&run(&emu, &["stat"], service, &["public", "k", "--secret-key", "not-the-secret"]), 1);
        assert!(err.contains("(auth)") || err.contains("refused"), "{service}: {err}");
        // Nothing listening.
        let args: Vec<String> =
            ["ls", "--service", service, "--endpoint", "http://127.0.0.1:9", "public"].map(String::from).to_vec();
        let err = one_line_error(&yunup_in(&args, true, None).output().unwrap(), 1);
        assert!(err.contains("(network)"), "{err}");
        // Usage mistakes.
        one_line_error(&run(&emu, &["ls"], service, &["/prefix"]), 2);
        one_line_error(&run(&emu, &["ls"], service, &["public", "--limit", "0"]), 2);
        one_line_error(&run(&emu, &["stat"], service, &["public"]), 2);
        one_line_error(&run(&emu, &["stat"], service, &["public", ""]), 2);
        one_line_error(&run(&emu, &["rm"], service, &["public"]), 2);
    }
    // The credentials file works as for other commands.
    let dir = temp_dir("creds");
    let creds = dir.join("keys");
    std::fs::write(&creds, format!("YUNUP_ACCESS_KEY={AK}\nYUNUP_SECRET_KEY={SK}\n")).unwrap();
    let out =
        run_with(&emu, &["ls"], "wcs", &["public", "--json", "--credentials-file", creds.to_str().unwrap()], false);
    assert!(lines(&out).is_empty());
    let _ = std::fs::remove_dir_all(&dir);

    let base =
        |args: &[&str]| yunup_in(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>(), true, None).output().unwrap();
    let err = one_line_error(&base(&["ls", "--service", "wcs", "public"]), 2);
    assert!(err.contains("--endpoint is required for WCS"), "{err}");
    one_line_error(&base(&["ls", "--service", "s3", "--endpoint", "http://x", "public"]), 2);
    one_line_error(&base(&["ls", "--service", "wcs", "--endpoint", "ftp://x", "public"]), 2);
    one_line_error(&base(&["ls", "public"]), 2);
    // The help lists the commands.
    let help = String::from_utf8(base(&["--help"]).stdout).unwrap();
    for command in ["ls", "stat", "rm", "cp", "mv", "expire", "fetch", "jobs", "download", "bucket", "folder"] {
        assert!(help.contains(&format!("\n  {command} ")), "{command} in {help}");
    }
}

/// `jobs wait` on a job whose status has a code yunup does not know: the status, then one line
/// and exit 1 (it exited 0, as if the job had succeeded). The reply comes from a one-line server
/// (no emulator answers such a status).
#[test]
fn a_job_in_an_unknown_state_is_not_a_success() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let body = r#"{"id":"job-9","code":9,"desc":"","items":[]}"#;
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    let args: Vec<String> =
        ["jobs", "wait", "--service", "wcs", "--endpoint", &endpoint, "job-9"].map(String::from).to_vec();
    let out = yunup_in(&args, false, None).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(String::from_utf8(out.stdout).unwrap().contains("job-9"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("job job-9 stopped in a state yunup does not know (code 9)"), "{err}");
}
