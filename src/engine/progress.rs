//! Upload progress that never goes backwards.

/// A snapshot of an upload's progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Total bytes, when known (a stream's size is known only at its end).
    pub total: Option<u64>,
    /// Bytes the service has confirmed. Only grows.
    pub confirmed: u64,
    /// Bytes of the parts being sent right now.
    pub in_flight: u64,
    /// Bytes that left this machine: `confirmed` plus what the requests in flight have sent so
    /// far. Byte by byte where the runtime reports upload progress (XHR in pages and workers),
    /// per part elsewhere. Only grows (a retried request does not take it back).
    pub sent: u64,
    /// Parts confirmed, and parts planned (when known).
    pub parts_done: u64,
    pub parts_total: Option<u64>,
    /// Bytes of `confirmed` that a checkpoint vouched for: sent by an earlier run, not this one.
    /// What this run uploaded is `confirmed - resumed` (speeds are computed from it).
    pub resumed: u64,
}

impl Progress {
    /// Confirmed share in [0, 1], when the total is known (an empty file is complete at 1).
    pub fn fraction(&self) -> Option<f64> {
        self.total.map(|t| if t == 0 { 1.0 } else { self.confirmed as f64 / t as f64 })
    }

    /// This snapshot with no counter below `floor`'s. An upload that starts over (its
    /// checkpoint turned out stale) reports through this, so that its counters hold at the
    /// first attempt's until the second passes them instead of dropping to 0.
    pub(crate) fn at_least(mut self, floor: &Progress) -> Progress {
        self.confirmed = self.confirmed.max(floor.confirmed);
        self.sent = self.sent.max(floor.sent);
        self.resumed = self.resumed.max(floor.resumed);
        self.parts_done = self.parts_done.max(floor.parts_done);
        // The second attempt may plan other parts (a checkpoint's part size is not the option's).
        if let Some(parts) = self.parts_total {
            self.parts_done = self.parts_done.min(parts);
        }
        self
    }
}

/// Keeps the counters monotonic whatever order parts finish, fail and restart in.
#[derive(Debug, Default)]
pub(crate) struct ProgressTracker {
    now: Progress,
    /// Bytes sent so far of each part in flight, by part index.
    sending: std::collections::BTreeMap<u64, u64>,
}

impl ProgressTracker {
    pub(crate) fn new(total: Option<u64>, parts_total: Option<u64>) -> Self {
        ProgressTracker { now: Progress { total, parts_total, ..Default::default() }, sending: Default::default() }
    }

    pub(crate) fn snapshot(&self) -> Progress {
        self.now
    }

    fn update_sent(&mut self) {
        let sent = self.now.confirmed + self.sending.values().sum::<u64>();
        self.now.sent = self.now.sent.max(sent).max(self.now.confirmed);
        if let Some(total) = self.now.total {
            self.now.sent = self.now.sent.min(total);
        }
    }

    pub(crate) fn start_part(&mut self, index: u64, bytes: u64) {
        self.now.in_flight += bytes;
        self.sending.insert(index, 0);
    }

    /// `bytes` of part `index` have been sent by the request in flight.
    pub(crate) fn part_sent(&mut self, index: u64, bytes: u64) {
        if let Some(sent) = self.sending.get_mut(&index) {
            *sent = bytes;
            self.update_sent();
        }
    }

    /// A part failed and will be sent again later: it is no longer in flight.
    pub(crate) fn drop_part(&mut self, index: u64, bytes: u64) {
        self.now.in_flight = self.now.in_flight.saturating_sub(bytes);
        self.sending.remove(&index);
    }

    pub(crate) fn finish_part(&mut self, index: u64, bytes: u64, was_in_flight: bool) {
        if was_in_flight {
            self.drop_part(index, bytes);
        } else {
            self.now.resumed += bytes;
        }
        self.now.confirmed += bytes;
        self.now.parts_done += 1;
        if let Some(total) = self.now.total {
            self.now.confirmed = self.now.confirmed.min(total);
        }
        self.update_sent();
    }

    pub(crate) fn set_total(&mut self, total: u64, parts: u64) {
        self.now.total = Some(total);
        self.now.parts_total = Some(parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn never_backwards() {
        let mut t = ProgressTracker::new(Some(10), Some(2));
        t.start_part(0, 5);
        t.start_part(1, 5);
        t.part_sent(1, 4);
        assert_eq!(t.snapshot().sent, 4);
        t.drop_part(1, 5); // failed, will retry
        t.part_sent(0, 2);
        assert_eq!((t.snapshot().confirmed, t.snapshot().sent), (0, 4), "sent does not go back on a retry");
        t.finish_part(0, 5, true);
        t.start_part(1, 5);
        t.finish_part(1, 5, true);
        let p = t.snapshot();
        assert_eq!((p.confirmed, p.in_flight, p.parts_done, p.sent, p.resumed), (10, 0, 2, 10, 0));
        assert_eq!(p.fraction(), Some(1.0));
        assert_eq!(Progress { total: Some(0), ..Default::default() }.fraction(), Some(1.0));
    }

    #[test]
    fn parts_from_a_checkpoint_count_as_resumed() {
        let mut t = ProgressTracker::new(Some(10), Some(2));
        t.finish_part(0, 5, false);
        t.start_part(1, 5);
        t.finish_part(1, 5, true);
        let p = t.snapshot();
        assert_eq!((p.confirmed, p.resumed, p.sent), (10, 5, 10));
    }
}
