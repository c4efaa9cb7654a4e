//! Hashes the services use to name and verify bytes.
//!
//! Every hasher here is incremental: feed it with [`Hasher::update`] in chunks of any size and
//! call [`Hasher::finalize`]. The result never depends on where the chunk boundaries fall, and
//! memory stays constant whatever the input size — a 100 GiB file costs the same few hundred
//! bytes of state as a 1 KiB one. (One exception, by design: in wasm builds [`WcsEtag`] and
//! [`UfileEtag`] gather up to four 4 MiB blocks, 16 MiB, to hash them side by side in SIMD lanes,
//! at more than twice the speed; `unbuffered()` makes one that does not.)
//!
//! | hasher | used for |
//! |---|---|
//! | [`Md5`] | UFile `Content-MD5` (hex), Wantu part `eTag` and whole-file `md5` |
//! | [`Sha1`] | the building block of both vendors' etags |
//! | [`Crc32`] | WCS `bput` reply `crc32` |
//! | [`WcsEtag`] | the WCS `hash` (Qiniu-style etag: 4 MiB blocks, `0x16`/`0x96` prefix) |
//! | [`UfileEtag`] | the UFile object `ETag` (block count prefix, little-endian) |
//! | [`UfilePartEtag`] | the `ETag` of one UFile multipart part |
//! | [`ObjectEtags`] | both object etags from one SHA-1 pass (servers) |

mod digest;
mod etag;

pub use digest::{Crc32, Md5, Md5Digest, Sha1, Sha1Digest};
pub use etag::{ETAG_BLOCK_SIZE, ObjectEtagValues, ObjectEtags, UfileEtag, UfilePartEtag, WcsEtag};

/// An incremental hash: the shape every hasher in this module shares.
///
/// It mirrors RustCrypto's `update`/`finalize` so that generic code (streaming a file, a `Blob`,
/// a request body) drives any of them the same way.
pub trait Hasher: Default {
    /// What [`finalize`](Hasher::finalize) produces.
    type Output;

    /// Feed more bytes. Any chunking gives the same result.
    fn update(&mut self, data: &[u8]);

    /// Consume the hasher and produce the digest.
    fn finalize(self) -> Self::Output;

    /// Hash `data` in one call.
    fn digest(data: &[u8]) -> Self::Output {
        let mut h = Self::default();
        h.update(data);
        h.finalize()
    }
}

/// Which etag flavour to compute, for callers that choose at run time (CLI, JS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtagKind {
    /// WCS `hash` (also Qiniu's etag).
    Wcs,
    /// UFile object `ETag`.
    Ufile,
}

impl std::str::FromStr for EtagKind {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "wcs" => Ok(EtagKind::Wcs),
            "ufile" => Ok(EtagKind::Ufile),
            other => Err(crate::Error::invalid_input(format!("unknown etag kind {other:?}: use \"wcs\" or \"ufile\""))),
        }
    }
}

/// An etag hasher whose flavour is chosen at run time.
#[derive(Clone, Debug)]
pub enum AnyEtag {
    Wcs(WcsEtag),
    Ufile(UfileEtag),
}

impl AnyEtag {
    pub fn new(kind: EtagKind) -> Self {
        match kind {
            EtagKind::Wcs => AnyEtag::Wcs(WcsEtag::default()),
            EtagKind::Ufile => AnyEtag::Ufile(UfileEtag::default()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            AnyEtag::Wcs(h) => h.update(data),
            AnyEtag::Ufile(h) => h.update(data),
        }
    }

    /// Add a 4 MiB block by its SHA-1 (see [`WcsEtag::push_block_digest`]).
    pub fn push_block_digest(&mut self, digest: [u8; 20]) {
        match self {
            AnyEtag::Wcs(h) => h.push_block_digest(digest),
            AnyEtag::Ufile(h) => h.push_block_digest(digest),
        }
    }

    pub fn finalize(self) -> String {
        match self {
            AnyEtag::Wcs(h) => h.finalize(),
            AnyEtag::Ufile(h) => h.finalize(),
        }
    }
}

#[cfg(test)]
mod tests;
