//! Start a `yunup-emulator` command on loopback port 0 and wait until it says where it listens.
//! Shared by the emulator's tests and the CLI's (`cli/tests/common` includes this file).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A started emulator: the process, the base URL of each host (`wcs`, `ufile`, `wantu`, `demo`),
/// and the lines it prints after them (the request log).
pub struct Started {
    pub child: Child,
    pub urls: HashMap<String, String>,
    pub log: mpsc::Receiver<String>,
}

/// Add the four listen flags (port 0: the system picks free ports), spawn, and read the ready lines.
pub fn spawn(mut cmd: Command) -> Started {
    for flag in ["--wcs", "--ufile", "--wantu", "--demo"] {
        cmd.args([flag, "127.0.0.1:0"]);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("the emulator starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut urls = HashMap::new();
    while urls.len() < 4 {
        let line = log.recv_timeout(Duration::from_secs(30)).expect("the emulator prints its ready lines");
        if let Some((name, url)) = line.strip_prefix("yunup-emulator: ").and_then(|r| r.split_once(" ready on ")) {
            urls.insert(name.to_owned(), url.to_owned());
        }
    }
    Started { child, urls, log }
}

/// A fresh query for a barrier request (`GET {demo}/admin/requests?barrier=N`), see `log_until_barrier`.
pub fn barrier_path() -> String {
    static BARRIER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("/admin/requests?barrier={}", BARRIER.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// The log lines before the barrier request's own line. Exact because the emulator prints a
/// request's line before answering it: every line of an earlier, finished request comes first.
pub fn log_until_barrier(log: &mpsc::Receiver<String>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(line) = log.recv_timeout(Duration::from_secs(30)) {
        if line.starts_with("demo GET /admin/requests") {
            break;
        }
        lines.push(line);
    }
    lines
}
