//! The vendors' block etags.
//!
//! WCS and UFile both name an object by SHA-1 over 4 MiB blocks: one block is hashed directly,
//! several are hashed block by block and the concatenated digests hashed again. They differ only
//! in the prefix (a flag byte for WCS, a little-endian block count for UFile) and in base64
//! padding. [`BlockSha1`] does the shared part in constant memory: block digests are streamed into
//! the outer hash as they complete, instead of being kept in a list.

use sha1::Digest as _;

use super::Hasher;
use super::digest::feed;
use crate::encoding::{urlsafe_b64, urlsafe_b64_nopad};

/// Both vendors cut files into blocks of exactly 4 MiB for their etags, whatever the upload
/// part size. (That is why WCS upload block sizes must be multiples of 4 MiB.)
pub const ETAG_BLOCK_SIZE: u64 = 4 * 1024 * 1024;

/// SHA-1 over 4 MiB blocks, combined the way both vendors do.
#[derive(Clone)]
struct BlockSha1 {
    /// Hash of the block being filled (when not gathering).
    block: sha1::Sha1,
    /// Bytes in the block being filled (when not gathering).
    block_len: u64,
    /// Whether to gather blocks and hash [`LANES`] of them at once (see [`hash_blocks`]).
    gather: bool,
    /// When gathering: the bytes of the blocks not hashed yet, fewer than [`LANES`] blocks.
    gathered: Vec<u8>,
    /// Completed blocks.
    blocks: u64,
    /// Digest of the first completed block, kept until we know whether a second one follows.
    first: Option<[u8; 20]>,
    /// SHA-1 over the concatenated block digests, started when a second block completes.
    outer: Option<sha1::Sha1>,
}

// By hand: a derived `Debug` would print the gathered bytes, up to 12 MiB of the file.
impl std::fmt::Debug for BlockSha1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockSha1")
            .field("blocks", &self.blocks)
            .field("block_len", &self.block_len)
            .field("gather", &self.gather)
            .field("gathered_len", &self.gathered.len())
            .finish_non_exhaustive()
    }
}

impl Default for BlockSha1 {
    fn default() -> Self {
        Self::new(LANES > 1)
    }
}

impl BlockSha1 {
    fn new(gather: bool) -> Self {
        BlockSha1 {
            block: sha1::Sha1::new(),
            block_len: 0,
            gather,
            gathered: Vec::new(),
            blocks: 0,
            first: None,
            outer: None,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        if self.gather {
            return self.gather(data);
        }
        while !data.is_empty() {
            let room = (ETAG_BLOCK_SIZE - self.block_len) as usize;
            let take = room.min(data.len());
            feed(&mut self.block, &data[..take]);
            self.block_len += take as u64;
            data = &data[take..];
            if self.block_len == ETAG_BLOCK_SIZE {
                self.finish_block();
            }
        }
    }

    /// Keep `data` until [`LANES`] blocks are here, then hash them at once. Whole groups of
    /// blocks in `data` itself are hashed where they are, without a copy.
    fn gather(&mut self, mut data: &[u8]) {
        let group = LANES * ETAG_BLOCK_SIZE as usize;
        while !data.is_empty() {
            if self.gathered.is_empty() && data.len() >= group {
                let whole = data.len() / group * group;
                hash_blocks(&data[..whole], |d| self.count_block(d));
                data = &data[whole..];
                continue;
            }
            let take = (group - self.gathered.len()).min(data.len());
            // Grow by doubling, but never past one group: small inputs stay small.
            let want = self.gathered.len() + take;
            if want > self.gathered.capacity() {
                let to = want.max(2 * self.gathered.capacity()).min(group);
                self.gathered.reserve_exact(to - self.gathered.len());
            }
            self.gathered.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.gathered.len() == group {
                self.hash_gathered();
            }
        }
    }

    /// Hash what was gathered (whole blocks, and a last short one only at the end).
    fn hash_gathered(&mut self) {
        let gathered = std::mem::take(&mut self.gathered);
        hash_blocks(&gathered, |d| self.count_block(d));
        self.gathered = gathered;
        self.gathered.clear();
    }

    fn finish_block(&mut self) {
        let digest: [u8; 20] = std::mem::take(&mut self.block).finalize().into();
        self.block_len = 0;
        self.count_block(digest);
    }

    /// True between blocks: the next bytes start a new 4 MiB block.
    fn at_block_boundary(&self) -> bool {
        self.block_len == 0 && (self.gathered.len() as u64).is_multiple_of(ETAG_BLOCK_SIZE)
    }

    /// Count a block whose digest the caller took itself (the upload engine hashes each part
    /// once and shares the digest). Only between blocks; every block but the last is full.
    fn push_block(&mut self, digest: [u8; 20]) {
        debug_assert!(self.at_block_boundary(), "a block digest pushed mid-block");
        // Blocks gathered before it come first.
        self.hash_gathered();
        self.count_block(digest);
    }

    fn count_block(&mut self, digest: [u8; 20]) {
        self.blocks += 1;
        match (&mut self.outer, self.first) {
            (None, None) => self.first = Some(digest),
            (None, Some(first)) => {
                let mut outer = sha1::Sha1::new();
                outer.update(first);
                outer.update(digest);
                self.outer = Some(outer);
            }
            (Some(outer), _) => outer.update(digest),
        }
    }

    /// `(block count, digest)`: the digest of the content when it fits one block (SHA-1 of the
    /// empty string for no content), else SHA-1 of the block digests.
    fn finish(mut self) -> (u64, [u8; 20]) {
        if self.block_len > 0 {
            self.finish_block();
        }
        self.hash_gathered();
        match (self.outer, self.first) {
            (Some(outer), _) => (self.blocks, outer.finalize().into()),
            (None, Some(first)) => (self.blocks, first),
            (None, None) => (0, sha1::Sha1::new().finalize().into()),
        }
    }
}

/// How many blocks are hashed at once: four SIMD lanes in wasm builds with simd128, else one
/// (native CPUs have SHA-1 instructions, faster than lanes).
const LANES: usize = if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) { 4 } else { 1 };

/// The SHA-1 of each 4 MiB block of `bytes` in order (the last may be short), handed to `each`:
/// full blocks [`LANES`] at a time where there are lanes.
fn hash_blocks(bytes: &[u8], mut each: impl FnMut([u8; 20])) {
    let block = ETAG_BLOCK_SIZE as usize;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let bytes = {
        // Groups of two to four full blocks go through the lanes (the lanes a short group leaves
        // over hash its first block again); a single full block left over goes the scalar way,
        // which is faster for one.
        let full = bytes.len() / block;
        let laned = if full % LANES == 1 { full - 1 } else { full };
        for group in bytes[..laned * block].chunks(LANES * block) {
            let n = group.len() / block;
            let block_of_lane = |lane: usize| if lane < n { lane } else { 0 };
            let lanes = [0, 1, 2, 3].map(|lane| &group[block_of_lane(lane) * block..][..block]);
            let digests = yunup_lanes::sha1_x4(lanes).expect("whole blocks of one size");
            digests.into_iter().take(n).for_each(&mut each);
        }
        &bytes[laned * block..]
    };
    for piece in bytes.chunks(block) {
        let mut sha1 = sha1::Sha1::new();
        feed(&mut sha1, piece);
        each(sha1.finalize().into());
    }
}

/// What [`WcsEtag`] and [`UfileEtag`] share with a caller that hashes whole 4 MiB blocks itself.
macro_rules! block_digests {
    ($t:ty) => {
        impl $t {
            /// One that hashes each block as its bytes come and keeps none of them: a few
            /// hundred bytes of state, at the speed of one SHA-1 (`default()` may gather up to
            /// four blocks to hash them at once; see the [module](crate::hash) docs).
            pub fn unbuffered() -> Self {
                Self(BlockSha1::new(false))
            }

            /// True between blocks: the next bytes start a new 4 MiB block.
            pub fn at_block_boundary(&self) -> bool {
                self.0.at_block_boundary()
            }

            /// Add a block by its SHA-1 instead of its bytes, when the caller hashed it already.
            /// Call only at a block boundary, with a full 4 MiB block or with the last one.
            pub fn push_block_digest(&mut self, digest: [u8; 20]) {
                self.0.push_block(digest);
            }
        }
    };
}
block_digests!(WcsEtag);
block_digests!(UfileEtag);
block_digests!(ObjectEtags);

/// The WCS `hash` of an object (Qiniu's "qetag"): 28 characters, URL-safe base64.
///
/// `urlsafe_b64(0x16 ‖ SHA1(content))` for at most one 4 MiB block, else
/// `urlsafe_b64(0x96 ‖ SHA1(SHA1(block₁) ‖ SHA1(block₂) ‖ …))`.
#[derive(Clone, Debug, Default)]
pub struct WcsEtag(BlockSha1);

impl Hasher for WcsEtag {
    type Output = String;
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> String {
        let (blocks, digest) = self.0.finish();
        wcs_etag_text(blocks, &digest)
    }
}

fn wcs_etag_text(blocks: u64, digest: &[u8; 20]) -> String {
    let mut out = [0u8; 21];
    out[0] = if blocks <= 1 { 0x16 } else { 0x96 };
    out[1..].copy_from_slice(digest);
    urlsafe_b64(out)
}

fn ufile_etag_text(blocks: u64, digest: &[u8; 20]) -> String {
    let mut out = [0u8; 24];
    // Over u32::MAX blocks (16 PiB) the service cannot hold the file anyway; saturate.
    let count = u32::try_from(blocks).unwrap_or(u32::MAX);
    out[..4].copy_from_slice(&count.to_le_bytes());
    out[4..].copy_from_slice(digest);
    urlsafe_b64_nopad(out)
}

/// Both object etags from one pass of SHA-1: they differ only in prefix and padding, so a
/// server that must answer with either (the emulator) hashes the bytes once.
#[derive(Clone, Debug, Default)]
pub struct ObjectEtags(BlockSha1);

/// What [`ObjectEtags`] produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEtagValues {
    /// As [`WcsEtag`] computes it.
    pub wcs: String,
    /// As [`UfileEtag`] computes it.
    pub ufile: String,
}

impl Hasher for ObjectEtags {
    type Output = ObjectEtagValues;
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> ObjectEtagValues {
        let (blocks, digest) = self.0.finish();
        ObjectEtagValues { wcs: wcs_etag_text(blocks, &digest), ufile: ufile_etag_text(blocks, &digest) }
    }
}

/// The UFile object `ETag`: 32 characters, URL-safe base64 of `LE32(block count) ‖ digest`.
///
/// The empty file is `AAAAANo5o-5ea0sNMlW_75VgGJCv2AcJ` (count 0 and SHA-1 of nothing), as the
/// Go and Java SDKs and the documentation's pseudo-code compute it. (The Python SDK's
/// `file_etag` answers `AAAAAA==` there; see `protocols/ufile.md` §4.1.)
#[derive(Clone, Debug, Default)]
pub struct UfileEtag(BlockSha1);

impl Hasher for UfileEtag {
    type Output = String;
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> String {
        let (blocks, digest) = self.0.finish();
        ufile_etag_text(blocks, &digest)
    }
}

/// The `ETag` UFile gives one multipart part: URL-safe base64 of its SHA-1, 28 characters with
/// `=` padding and no count prefix.
#[derive(Clone, Debug, Default)]
pub struct UfilePartEtag(sha1::Sha1);

impl Hasher for UfilePartEtag {
    type Output = String;
    fn update(&mut self, data: &[u8]) {
        feed(&mut self.0, data);
    }
    fn finalize(self) -> String {
        urlsafe_b64(self.0.finalize())
    }
}
