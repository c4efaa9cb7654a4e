//! Fault injection: the failures real networks and servers produce, on demand and replayable.
//!
//! Off by default. Switched on at start (`--faults JSON`) or at run time through the demo host's
//! admin endpoint (`GET`/`PUT /admin/faults`). Decisions come from a seeded generator, so a
//! failing test can be replayed with the same seed and the same request sequence.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What to inject, and how often. Rates are probabilities per request, from 0 to 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the generator; setting a config restarts the sequence from it.
    pub seed: u64,
    /// Share of requests answered with one of `errorStatuses` before the handler runs.
    pub error_rate: f64,
    pub error_statuses: Vec<u16>,
    /// Share of requests whose connection is cut after reading part of the request body.
    pub reset_rate: f64,
    /// Share of requests held for `stallMs` before they are handled.
    pub stall_rate: f64,
    pub stall_ms: u64,
    /// Share of responses whose body is cut off halfway (the connection closes).
    pub truncate_rate: f64,
    /// Share of requests whose body has one byte changed on the way in (a faulty proxy or
    /// network card): the payload's last byte, before a form's closing boundary. What checksums
    /// and etag checks are there to catch.
    pub corrupt_rate: f64,
    /// Only these services (`wcs`, `ufile`, `wantu`); empty means all three. `backend`, the demo
    /// host's token and signature routes (a user's backend failing), only when named.
    pub services: Vec<String>,
    /// Only requests whose path and query contain this text (e.g. `partNumber`, `/mkblk`,
    /// `blockUpload`); empty means all.
    pub path_contains: String,
    /// Only requests with this method (`POST`, any case); empty means all. With `pathContains`
    /// it singles out a request kind that shares its path with others (UFile's finish is the
    /// `POST` of `?uploadId=`, its parts `PUT`s of it).
    pub method: String,
    /// At most this many requests get a fault, counted from when this config was set; 0: no
    /// limit. One lost reply, then a working service: what a retry has to get right.
    pub max_faults: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            error_rate: 0.0,
            error_statuses: vec![500, 503],
            reset_rate: 0.0,
            stall_rate: 0.0,
            stall_ms: 0,
            truncate_rate: 0.0,
            corrupt_rate: 0.0,
            services: Vec::new(),
            path_contains: String::new(),
            method: String::new(),
            max_faults: 0,
        }
    }
}

impl FaultConfig {
    /// Refuse rates outside [0, 1] and an error rate with no status to answer.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("errorRate", self.error_rate),
            ("resetRate", self.reset_rate),
            ("stallRate", self.stall_rate),
            ("truncateRate", self.truncate_rate),
            ("corruptRate", self.corrupt_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, not {rate}"));
            }
        }
        if self.error_rate > 0.0 && self.error_statuses.is_empty() {
            return Err("errorRate is set but errorStatuses is empty".into());
        }
        Ok(())
    }
}

/// The fault injector's name for the demo host's token backend.
pub const BACKEND: &str = "backend";

/// One injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Error(u16),
    Reset,
    Stall(u64),
    Truncate,
    Corrupt,
}

/// The switchable fault injector shared by every endpoint.
pub struct Faults {
    state: Mutex<State>,
}

struct State {
    config: FaultConfig,
    rng: SplitMix64,
    /// Requests that got a fault since `config` was set (for `max_faults`).
    injected: u64,
}

impl State {
    fn new(config: FaultConfig) -> Self {
        let rng = SplitMix64(config.seed);
        State { config, rng, injected: 0 }
    }
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Faults { state: Mutex::new(State::new(config)) }
    }

    pub fn config(&self) -> FaultConfig {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).config.clone()
    }

    pub fn set(&self, config: FaultConfig) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::new(config);
    }

    /// The faults for one request, in the order they apply (a stall, then at most one failure).
    pub fn decide(&self, service: &str, method: &str, path: &str) -> Vec<Fault> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State { config, rng, injected } = &mut *guard;
        let named = config.services.iter().any(|s| s == service);
        let applies = (named || (config.services.is_empty() && service != BACKEND))
            && path.contains(config.path_contains.as_str())
            && (config.method.is_empty() || config.method.eq_ignore_ascii_case(method))
            && (config.max_faults == 0 || *injected < config.max_faults);
        let any =
            config.error_rate + config.reset_rate + config.stall_rate + config.truncate_rate + config.corrupt_rate
                > 0.0;
        let mut out = Vec::new();
        if !applies || !any {
            return out;
        }
        if rng.chance(config.stall_rate) {
            out.push(Fault::Stall(config.stall_ms));
        }
        if rng.chance(config.error_rate) {
            let i = rng.below(config.error_statuses.len() as u64) as usize;
            out.push(Fault::Error(config.error_statuses[i]));
        } else if rng.chance(config.reset_rate) {
            out.push(Fault::Reset);
        } else if rng.chance(config.truncate_rate) {
            out.push(Fault::Truncate);
        } else if rng.chance(config.corrupt_rate) {
            out.push(Fault::Corrupt);
        }
        if !out.is_empty() {
            *injected += 1;
        }
        out
    }
}

/// A tiny, well-known seeded generator (Steele, Lea, Flood 2014). Quality is ample for picking
/// which requests fail; what matters is that a seed replays.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, rate: f64) -> bool {
        rate > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < rate
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_seeded_sequences_replay() {
        let faults = Faults::new(FaultConfig::default());
        assert!((0..100).all(|_| faults.decide("wcs", "GET", "/x").is_empty()));

        let config = FaultConfig { seed: 42, error_rate: 0.3, reset_rate: 0.2, ..Default::default() };
        let run = |c: &FaultConfig| {
            let f = Faults::new(c.clone());
            (0..200).map(|_| f.decide("ufile", "GET", "/k")).collect::<Vec<_>>()
        };
        let a = run(&config);
        assert_eq!(a, run(&config), "same seed, same faults");
        let errors = a.iter().filter(|f| matches!(f.as_slice(), [Fault::Error(_)])).count();
        assert!((30..90).contains(&errors), "about 30% errors, got {errors}");
        assert_ne!(a, run(&FaultConfig { seed: 43, ..config.clone() }));
    }

    #[test]
    fn filters_and_validation() {
        let f = Faults::new(FaultConfig { error_rate: 1.0, services: vec!["wcs".into()], ..Default::default() });
        assert!(f.decide("ufile", "GET", "/k").is_empty());
        assert!(matches!(f.decide("wcs", "GET", "/k").as_slice(), [Fault::Error(500 | 503)]));
        // The token backend fails only when it is named: faults for "everything" mean the services.
        let all = Faults::new(FaultConfig { error_rate: 1.0, ..Default::default() });
        assert!(all.decide(BACKEND, "GET", "/api/token/wcs").is_empty());
        assert!(!all.decide("wantu", "GET", "/k").is_empty());
        let backend =
            Faults::new(FaultConfig { error_rate: 1.0, services: vec![BACKEND.into()], ..Default::default() });
        assert!(!backend.decide(BACKEND, "GET", "/api/token/wcs").is_empty());
        assert!(backend.decide("wcs", "GET", "/k").is_empty());
        // A method and a count: the first two POSTs of ?uploadId= fail, nothing else does.
        let finish = Faults::new(FaultConfig {
            error_rate: 1.0,
            path_contains: "uploadId".into(),
            method: "post".into(),
            max_faults: 2,
            ..Default::default()
        });
        assert!(finish.decide("ufile", "PUT", "/k?uploadId=1&partNumber=0").is_empty());
        assert!(finish.decide("ufile", "POST", "/k?uploads").is_empty());
        assert!(!finish.decide("ufile", "POST", "/k?uploadId=1").is_empty());
        assert!(!finish.decide("ufile", "POST", "/k?uploadId=1").is_empty());
        assert!(finish.decide("ufile", "POST", "/k?uploadId=1").is_empty(), "two faults at most");
        finish.set(finish.config());
        assert!(!finish.decide("ufile", "POST", "/k?uploadId=1").is_empty(), "a new config counts afresh");
        assert!(FaultConfig { error_rate: 1.5, ..Default::default() }.validate().is_err());
        assert!(FaultConfig { error_rate: 0.5, error_statuses: vec![], ..Default::default() }.validate().is_err());
    }
}
