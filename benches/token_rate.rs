//! Token minting per second, native (row 4 of `make bench`; benches/py_sdk.py `tokens` is the
//! peer). Not a libtest benchmark: one `#[test]` that does nothing unless `YUNUP_BENCH_SECONDS` is
//! set, so that `cargo clippy --all-targets` checks it and nothing runs it by accident. Run by
//! benches/bench.mjs as
//!
//!     YUNUP_BENCH_SECONDS=1 cargo test --release --bench token_rate -- --nocapture --test-threads 1
//!
//! and prints one JSON line: `{"wcs": tokens/s, "ufile": signatures/s}`. The work per call is
//! the same as the Python SDK's: a WCS put policy for one key with a deadline (JSON, base64,
//! HMAC-SHA1, base64), and the UFile `Authorization` of a PUT of one key with its content type.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use yunup::sign::{Credentials, ufile, wcs};

/// Calls per second of `f(i)` over about `seconds`, in batches of 1000.
fn rate(seconds: f64, mut f: impl FnMut(u64)) -> f64 {
    let limit = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..1000 {
            f(n);
            n += 1;
        }
        let elapsed = start.elapsed();
        if elapsed >= limit {
            return n as f64 / elapsed.as_secs_f64();
        }
    }
}

#[test]
fn token_rate() {
    let Some(seconds) = std::env::var("YUNUP_BENCH_SECONDS").ok().and_then(|s| s.parse::<f64>().ok()) else {
        return;
    };
    let credentials = Credentials::new("bench-ak", "bench-sk-0123456789abcdef");
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let wcs_rate = rate(seconds, |i| {
        let policy = wcs::PutPolicy::new(format!("public:photos/{i}.jpg"), now_ms + 3_600_000);
        black_box(wcs::upload_token(&credentials, &policy).expect("a valid policy"));
    });
    let ufile_rate = rate(seconds, |i| {
        let request = ufile::SignRequest {
            method: "PUT".into(),
            bucket: "public".into(),
            key: format!("photos/{i}.jpg"),
            content_type: "application/octet-stream".into(),
            ..Default::default()
        };
        black_box(ufile::authorization(&credentials, &request).expect("a valid request"));
    });
    println!("{{\"wcs\":{wcs_rate:.0},\"ufile\":{ufile_rate:.0}}}");
}
