//! Start a real `yunup-emulator` process on free loopback ports for a test, and stop it after.
#![allow(dead_code)] // each test binary uses a different part of this module

mod spawn;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;

pub const AK: &str = "test-ak";
pub const SK: &str = "test-sk";

/// A running emulator. Dropping it kills the process, then removes its data directory if the
/// emulator owns it (`Emulator::fresh`); a `TempData` the test holds goes when the test ends.
pub struct Emulator {
    child: Child,
    pub wcs: String,
    pub ufile: String,
    pub wantu: String,
    pub demo: String,
    pub data: PathBuf,
    /// Lines the emulator printed after the ready lines (the request log).
    pub log: mpsc::Receiver<String>,
    /// Declared last so that it is dropped after the process is killed.
    owned_data: Option<TempData>,
}

/// reqwest's rustls needs a crypto provider installed once per process (the `yunup` crate builds
/// reqwest without a built-in one, to avoid compiling aws-lc). Every test starts with
/// `temp_data_dir`, so it installs it.
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A fresh, unique directory under the system temp dir, removed when dropped: the suite writes
/// gigabytes over a run, and leaving them behind once filled the CI machine's disk.
pub struct TempData(PathBuf);

impl std::ops::Deref for TempData {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempData {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempData {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh data directory for a test that keeps it across emulator restarts; see `TempData`.
pub fn temp_data_dir(name: &str) -> TempData {
    install_crypto_provider();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("yunup-emu-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempData(dir)
}

impl Emulator {
    /// Start on a data directory of its own, removed when the emulator is dropped.
    pub fn fresh(name: &str, extra: &[&str]) -> Emulator {
        let data = temp_data_dir(name);
        let mut emu = Emulator::start(&data, extra);
        emu.owned_data = Some(data);
        emu
    }

    /// Start with buckets `public` and `secret:private`, one credential, and extra arguments.
    pub fn start(data: &Path, extra: &[&str]) -> Emulator {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_yunup-emulator"));
        cmd.arg("--data").arg(data);
        cmd.args(["--credential", &format!("{AK}:{SK}"), "--bucket", "public", "--bucket", "secret:private"]);
        cmd.args(extra);
        let spawn::Started { child, urls, log } = spawn::spawn(cmd);
        Emulator {
            child,
            wcs: urls["wcs"].clone(),
            ufile: urls["ufile"].clone(),
            wantu: urls["wantu"].clone(),
            demo: urls["demo"].clone(),
            data: data.to_owned(),
            log,
            owned_data: None,
        }
    }

    /// The request log lines since the last call. A barrier request to the demo host makes this
    /// exact: the emulator prints a request's line before answering it, so every line of an
    /// earlier, finished request comes before the barrier's own line.
    pub async fn log_lines(&self) -> Vec<String> {
        reqwest::get(format!("{}{}", self.demo, spawn::barrier_path())).await.expect("the demo host answers");
        spawn::log_until_barrier(&self.log)
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill(self) {
        // Drop kills and waits; the point is that the process gets no SIGTERM first.
        drop(self);
    }

    /// The UFile URL for `bucket` in virtual-host style (`http://bucket.localhost:port`).
    pub fn ufile_vhost(&self, bucket: &str) -> String {
        self.ufile.replacen("127.0.0.1", &format!("{bucket}.localhost"), 1)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
