//! Plain digests: MD5, SHA-1 and CRC32, wrapped to share the [`Hasher`] trait and to print the
//! way the services want (lower-case hex; upper-case on request).

use sha1::Digest as _;

use super::Hasher;
use crate::encoding::{hex_lower, hex_upper};

/// A 16-byte MD5 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// Lower-case hex, what UFile's `Content-MD5` and Wantu's `md5` expect.
    pub fn to_hex(&self) -> String {
        hex_lower(self.0)
    }
    /// Upper-case hex.
    pub fn to_hex_upper(&self) -> String {
        hex_upper(self.0)
    }
}

/// A 20-byte SHA-1 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sha1Digest(pub [u8; 20]);

impl Sha1Digest {
    pub fn to_hex(&self) -> String {
        hex_lower(self.0)
    }
    pub fn to_hex_upper(&self) -> String {
        hex_upper(self.0)
    }
}

/// Incremental MD5.
#[derive(Clone, Debug, Default)]
pub struct Md5(md5::Md5);

impl Hasher for Md5 {
    type Output = Md5Digest;
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> Md5Digest {
        Md5Digest(self.0.finalize().into())
    }
}

/// Incremental SHA-1.
#[derive(Clone, Debug, Default)]
pub struct Sha1(sha1::Sha1);

impl Hasher for Sha1 {
    type Output = Sha1Digest;
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> Sha1Digest {
        Sha1Digest(self.0.finalize().into())
    }
}

/// Incremental CRC-32 (IEEE, as zlib and WCS compute it).
#[derive(Clone, Debug, Default)]
pub struct Crc32(crc32fast::Hasher);

impl Hasher for Crc32 {
    type Output = u32;
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> u32 {
        self.0.finalize()
    }
}
