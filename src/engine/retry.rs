//! When to try a request again, and how long to wait first.

use super::{Runtime, Transport};
use crate::service::{HttpRequest, HttpResponse, Method, status_says_later};
use crate::{Error, ErrorKind, Result};

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
        ErrorKind::Server => err.status().is_none_or(|s| status_says_later(s) || s < 400),
        ErrorKind::InvalidInput => matches!(err.status(), Some(408 | 429)),
        _ => false,
    }
}

/// A [`Transport`] that sends a read (`GET`, `HEAD`) again, after a backoff, when it failed in a
/// way that another try may mend: the network, or a 5xx, 408 or 429 reply. The management
/// clients send through it: one 503 from a busy server used to fail a `stat`, a listing page or
/// a download chunk. Anything else goes once, and so does a `GET` marked
/// [`HttpRequest::changes_state`] (the UCloud API's `CreateBucket`): when the reply to a write is
/// lost, whether the write took effect cannot be known, and trying it again may do it twice or
/// fail on what the first try did. (Uploads retry in the engine, which knows what each step is.)
#[derive(Clone, Debug)]
pub struct RetryReads<T, R> {
    transport: T,
    runtime: R,
    policy: RetryPolicy,
}

impl<T, R> RetryReads<T, R> {
    /// Up to 4 tries, waiting up to 0.2, 0.4 and 0.8 s (jittered) in between.
    pub fn new(transport: T, runtime: R) -> Self {
        RetryReads { transport, runtime, policy: RetryPolicy { max_attempts: 4, ..RetryPolicy::default() } }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }
}

impl<T: Transport, R: Runtime> Transport for RetryReads<T, R> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let repeatable = matches!(request.method, Method::Get | Method::Head) && !request.changes_state;
        if !repeatable {
            return self.transport.send(request).await;
        }
        let mut attempt = 1;
        loop {
            let outcome = self.transport.send(request.clone()).await;
            let worth_another = match &outcome {
                Ok(reply) => status_says_later(reply.status),
                Err(err) => err.kind() == ErrorKind::Network,
            };
            if !worth_another || attempt >= self.policy.max_attempts {
                return outcome;
            }
            self.runtime.sleep(self.policy.delay_ms(attempt, self.runtime.random())).await;
            attempt += 1;
        }
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

    /// Answers from a queue and counts what it was sent; sleeps are recorded, not waited.
    #[derive(Default)]
    struct Flaky {
        replies: std::cell::RefCell<Vec<Result<u16>>>,
        sent: std::cell::Cell<u32>,
        slept: std::cell::RefCell<Vec<u64>>,
    }

    impl Transport for &Flaky {
        async fn send(&self, _request: HttpRequest) -> Result<HttpResponse> {
            self.sent.set(self.sent.get() + 1);
            let status = self.replies.borrow_mut().remove(0)?;
            Ok(HttpResponse { status, headers: Vec::new(), body: bytes::Bytes::new() })
        }
    }

    impl Runtime for &Flaky {
        async fn sleep(&self, ms: u64) {
            self.slept.borrow_mut().push(ms);
        }
        fn now_ms(&self) -> u64 {
            0
        }
        fn random(&self) -> f64 {
            0.5
        }
    }

    fn outcome(
        replies: Vec<Result<u16>>,
        request: HttpRequest,
    ) -> (std::result::Result<u16, ErrorKind>, u32, Vec<u64>) {
        let flaky = Flaky { replies: replies.into(), ..Flaky::default() };
        let got = crate::testing::block_on(RetryReads::new(&flaky, &flaky).send(request));
        (got.map(|r| r.status).map_err(|e| e.kind()), flaky.sent.get(), flaky.slept.take())
    }

    #[test]
    fn reads_are_sent_again_after_a_busy_server_or_a_broken_connection() {
        let get = || HttpRequest::new(Method::Get, "http://h/stat/x");
        let reset = || Err(Error::new(ErrorKind::Network, "reset"));
        assert_eq!(outcome(vec![Ok(503), reset(), Ok(429), Ok(200)], get()), (Ok(200), 4, vec![100, 200, 400]));
        let head = HttpRequest::new(Method::Head, "http://h/k");
        assert_eq!(outcome(vec![Ok(500), Ok(404)], head), (Ok(404), 2, vec![100]));
        // Four tries at most; the last reply is the answer.
        assert_eq!(outcome(vec![Ok(503); 5], get()), (Ok(503), 4, vec![100, 200, 400]));
        // What another try cannot mend goes back at once.
        for status in [200, 400, 401, 403, 404] {
            assert_eq!(outcome(vec![Ok(status)], get()), (Ok(status), 1, vec![]));
        }
        let aborted = Err(Error::new(ErrorKind::Aborted, "aborted"));
        assert_eq!(outcome(vec![aborted], get()), (Err(ErrorKind::Aborted), 1, vec![]));
    }

    #[test]
    fn writes_and_state_changing_gets_go_once() {
        for method in [Method::Post, Method::Put, Method::Delete] {
            let request = HttpRequest::new(method, "http://h/delete/x");
            assert_eq!(outcome(vec![Ok(503), Ok(200)], request), (Ok(503), 1, vec![]));
        }
        let mut create = HttpRequest::new(Method::Get, "http://api/?Action=CreateBucket");
        create.changes_state = true;
        assert_eq!(outcome(vec![Ok(502), Ok(200)], create), (Ok(502), 1, vec![]));
    }
}
