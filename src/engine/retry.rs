//! When to try a request again, and how long to wait first.

use crate::{Error, ErrorKind};

/// Exponential backoff with full jitter (the AWS architecture blog's recommendation: spreads
/// retries of many clients apart after a shared failure).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries per request, the first included.
    pub max_attempts: u32,
    /// Upper bound of the first wait.
    pub base_delay_ms: u64,
    /// Upper bound of any wait.
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 6, base_delay_ms: 200, max_delay_ms: 10_000 }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1), given a uniform `random`
    /// in [0, 1).
    pub fn delay_ms(&self, attempt: u32, random: f64) -> u64 {
        let exp = self.base_delay_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_delay_ms);
        (cap as f64 * random.clamp(0.0, 1.0)) as u64
    }
}

/// Whether sending the same request again may succeed: network failures, server errors, and the
/// statuses that mean "later" (408, 429). Never an auth or input error.
pub fn is_retryable(err: &Error) -> bool {
    match err.kind() {
        ErrorKind::Network => true,
        ErrorKind::Server => err.status().is_none_or(|s| s >= 500 || s == 408 || s == 429 || s < 400),
        ErrorKind::InvalidInput => matches!(err.status(), Some(408 | 429)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_ms(1, 0.999_999), 199);
        assert_eq!(p.delay_ms(3, 0.999_999), 799);
        assert_eq!(p.delay_ms(30, 0.999_999), 9_999);
        assert_eq!(p.delay_ms(3, 0.0), 0);
    }

    #[test]
    fn classification() {
        assert!(is_retryable(&Error::new(ErrorKind::Network, "reset")));
        assert!(is_retryable(&Error::new(ErrorKind::Server, "x").with_status(503)));
        assert!(is_retryable(&Error::new(ErrorKind::Server, "unparseable 200")));
        assert!(!is_retryable(&Error::new(ErrorKind::Server, "callback").with_status(400)));
        assert!(!is_retryable(&Error::auth("expired").with_status(401)));
        assert!(is_retryable(&Error::invalid_input("slow down").with_status(429)));
        assert!(!is_retryable(&Error::new(ErrorKind::Integrity, "mismatch")));
    }
}
