//! What the CLI's integration tests share: a real `yunup-emulator` process on free loopback
//! ports, scratch directories, test bytes and their etags, and the CLI's failure-line contract.
//!
//! The emulator is another package's binary, which cargo does not build for this one's tests:
//! `cargo test --workspace` (and `make test`) builds it, or `cargo build -p yunup-emulator`, or
//! point `YUNUP_EMULATOR_BIN` at one.
#![allow(dead_code)] // each test binary uses a different part of this module

#[path = "../../../emulator/tests/common/spawn.rs"]
mod spawn;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::mpsc;

use yunup::engine::Transport as _;
use yunup::hash::{Hasher, Md5, UfileEtag, WcsEtag};
use yunup::runtime::native::ReqwestTransport;
use yunup::service::{HttpRequest, Method};

pub const AK: &str = "cli-test-ak";
pub const SK: &str = "cli-test-sk-do-not-print";
pub const SERVICES: [&str; 3] = ["wcs", "ufile", "wantu"];

fn emulator_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("YUNUP_EMULATOR_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "YUNUP_EMULATOR_BIN={} is not a file", path.display());
        return path;
    }
    // Next to this package's `yunup` (honours CARGO_TARGET_DIR), else the workspace's target/.
    let exe = format!("yunup-emulator{}", std::env::consts::EXE_SUFFIX);
    let beside = Path::new(env!("CARGO_BIN_EXE_yunup")).with_file_name(&exe);
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug").join(&exe);
    for path in [&beside, &default] {
        if path.is_file() {
            return path.clone();
        }
    }
    panic!(
        "yunup-emulator not found at {} or {}: build it first (`cargo build -p yunup-emulator`; \
         `make test` and `cargo test --workspace` do) or set YUNUP_EMULATOR_BIN",
        beside.display(),
        default.display()
    );
}

/// A running emulator on free loopback ports with buckets `public` and `priv` (private) and the
/// test key pair. Dropping it kills the process and removes its data.
pub struct Emulator {
    child: Child,
    pub wcs: String,
    pub ufile: String,
    pub wantu: String,
    pub demo: String,
    dir: PathBuf,
    /// The request log (lines after the ready lines).
    log: mpsc::Receiver<String>,
}

impl Emulator {
    pub fn start(name: &str) -> Emulator {
        let dir = temp_dir(&format!("emu-{name}"));
        let mut cmd = Command::new(emulator_bin());
        cmd.arg("--data").arg(dir.join("data"));
        cmd.args(["--credential", &format!("{AK}:{SK}"), "--bucket", "public", "--bucket", "priv:private"]);
        cmd.arg("--www").arg(&dir).arg("--pkg").arg(&dir);
        let spawn::Started { child, urls, log } = spawn::spawn(cmd);
        Emulator {
            child,
            wcs: urls["wcs"].clone(),
            ufile: urls["ufile"].clone(),
            wantu: urls["wantu"].clone(),
            demo: urls["demo"].clone(),
            dir,
            log,
        }
    }

    /// `--endpoint` for a service; UFile's is path style with the bucket (or the `{bucket}`
    /// placeholder, which the management commands fill in).
    pub fn endpoint(&self, service: &str, bucket: &str) -> String {
        match service {
            "wcs" => self.wcs.clone(),
            "ufile" => format!("{}/{bucket}", self.ufile),
            _ => self.wantu.clone(),
        }
    }

    /// The request log lines since the last call. A barrier request to the demo host makes this
    /// exact: the emulator prints a request's line before answering it, so every line of an
    /// earlier (finished) command comes before the barrier's own line.
    pub fn log_lines(&self) -> Vec<String> {
        let (status, _) = http(Method::Get, &format!("{}{}", self.demo, spawn::barrier_path()), "");
        assert_eq!(status, 200, "the demo host answers");
        spawn::log_until_barrier(&self.log)
    }

    pub fn set_faults(&self, json: &str) {
        let (status, body) = http(Method::Put, &format!("{}/admin/faults", self.demo), json);
        assert_eq!(status, 200, "faults {json}: {}", String::from_utf8_lossy(&body));
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One HTTP request through the crate's own transport (which also installs the TLS provider).
pub fn http(method: Method, url: &str, body: &str) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let transport = ReqwestTransport::new().unwrap();
    let request = HttpRequest::new(method, url).body(body.to_owned());
    let response = rt.block_on(transport.send(request)).unwrap_or_else(|e| panic!("{url}: {e}"));
    (response.status, response.body.to_vec())
}

/// A fresh scratch directory; the caller removes it (the emulator's goes with the emulator).
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("yunup-cli-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `len` bytes that differ with `seed` and have no short period.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[i % 4] ^ seed).collect()
}

/// The etag a service shows for `bytes` (Wantu: the upper-case MD5).
pub fn etag(service: &str, bytes: &[u8]) -> String {
    match service {
        "wcs" => WcsEtag::digest(bytes),
        "ufile" => UfileEtag::digest(bytes),
        _ => Md5::digest(bytes).to_hex_upper(),
    }
}

/// A failure: the exit code, nothing on stdout, exactly one line on stderr, no secret.
pub fn one_line_error(out: &Output, code: i32) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    assert!(err.starts_with("yunup: "), "{err:?}");
    assert!(!err.contains(SK), "the secret key is never printed: {err}");
    err
}
