//! How a file of known size is cut into parts.

use crate::{Error, Result};

/// Parts of `part_size` bytes over `size` bytes; the last part holds the remainder.
///
/// Sizes are `u64` throughout: a 5 GiB file on wasm32 (32-bit `usize`) plans correctly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPlan {
    pub size: u64,
    pub part_size: u64,
}

impl PartPlan {
    pub fn new(size: u64, part_size: u64) -> Result<Self> {
        if part_size == 0 {
            return Err(Error::invalid_input("the part size must be at least 1 byte"));
        }
        Ok(PartPlan { size, part_size })
    }

    /// Number of parts (at least 1: an empty file is one empty part).
    pub fn count(&self) -> u64 {
        self.size.div_ceil(self.part_size).max(1)
    }

    /// `(offset, length)` of part `index`.
    pub fn part(&self, index: u64) -> (u64, u64) {
        let offset = index.saturating_mul(self.part_size).min(self.size);
        (offset, self.part_size.min(self.size - offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn plans() {
        let mib = 1024 * 1024;
        let p = PartPlan::new(9 * mib + 1, 4 * mib).unwrap();
        assert_eq!(p.count(), 3);
        assert_eq!(p.part(2), (8 * mib, mib + 1));
        assert_eq!(PartPlan::new(0, 4).unwrap().count(), 1);
        assert_eq!(PartPlan::new(8, 4).unwrap().count(), 2);
        // Over 4 GiB: offsets and counts stay exact.
        let big = PartPlan::new(5 * 1024 * mib + 3, 4 * mib).unwrap();
        assert_eq!(big.count(), 1281);
        assert_eq!(big.part(1280), (5 * 1024 * mib, 3));
        assert!(PartPlan::new(1, 0).is_err());
    }
}
