//! The hashes the engine takes of the bytes it uploads: one pass per algorithm over each part,
//! shared by every use (the service's checks of each part, the whole-object etag, the checkpoint).
//!
//! Hashing is the engine's main CPU cost, and in a page or in Node it runs on the thread that
//! also moves the request bodies: a hash taken twice, or a 4 MiB part hashed without a break,
//! shows up directly as upload time. So each part is hashed in pieces of [`PIECE`] bytes, every
//! hasher over one piece while it is in cache, with a yield to the event loop between pieces.

use bytes::Bytes;
use futures_util::future::LocalBoxFuture;

use super::Runtime;
use crate::hash::{Crc32, ETAG_BLOCK_SIZE, Hasher, Md5, Sha1, UfileEtag, WcsEtag};
use crate::service::ServiceKind;

/// Bytes hashed between two yields: about 3–5 ms of wasm hashing, so requests in flight keep
/// moving, and big enough that the yields cost nothing measurable.
const PIECE: usize = 1024 * 1024;

/// The local hash that the service's final etag must equal.
pub(crate) enum WholeHash {
    Wcs(WcsEtag),
    Ufile(UfileEtag),
    Wantu(Md5),
}

impl WholeHash {
    pub(crate) fn new(service: ServiceKind) -> Self {
        match service {
            ServiceKind::Wcs => WholeHash::Wcs(WcsEtag::unbuffered()),
            ServiceKind::Ufile => WholeHash::Ufile(UfileEtag::unbuffered()),
            ServiceKind::Wantu => WholeHash::Wantu(Md5::default()),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            WholeHash::Wcs(h) => h.update(data),
            WholeHash::Ufile(h) => h.update(data),
            WholeHash::Wantu(h) => h.update(data),
        }
    }

    /// `part.update(data); self.update(data)`: a Wantu part's MD5 and the whole file's go through
    /// the rounds once for both where they can ([`Md5::update_both`]).
    fn update_alongside(&mut self, part: &mut Md5, data: &[u8]) {
        match self {
            WholeHash::Wantu(whole) => Md5::update_both(part, whole, data),
            _ => {
                part.update(data);
                self.update(data);
            }
        }
    }

    /// Whether the next bytes start a 4 MiB etag block (so a block digest can be pushed).
    fn at_block_boundary(&self) -> bool {
        match self {
            WholeHash::Wcs(h) => h.at_block_boundary(),
            WholeHash::Ufile(h) => h.at_block_boundary(),
            WholeHash::Wantu(_) => false,
        }
    }

    fn push_block_digest(&mut self, digest: [u8; 20]) {
        match self {
            WholeHash::Wcs(h) => h.push_block_digest(digest),
            WholeHash::Ufile(h) => h.push_block_digest(digest),
            WholeHash::Wantu(_) => unreachable!("Wantu's etag is an MD5, not block digests"),
        }
    }

    /// The etag as the service writes it (Wantu: upper-case hex MD5).
    pub(crate) fn finish(self) -> String {
        match self {
            WholeHash::Wcs(h) => h.finalize(),
            WholeHash::Ufile(h) => h.finalize(),
            WholeHash::Wantu(h) => h.finalize().to_hex_upper(),
        }
    }
}

/// What one part's bytes hash to, as the engine needs it.
#[derive(Clone, Debug, Default)]
pub(crate) struct PartDigests {
    /// Recorded in the checkpoint to notice a changed file on resume: the part's MD5 (Wantu),
    /// SHA-1 in hex (UFile) or its chunks' CRC-32s in hex joined by commas (WCS).
    pub check: String,
    /// Lower-case hex MD5 of the part (Wantu's `md5`); empty for WCS and UFile. UFile parts go
    /// without Content-MD5 (optional for parts, and not sent by UCloud's JS SDK): their ETag,
    /// the part's SHA-1, is checked instead, which the object etag needs anyway. Taking an MD5
    /// too would double the hashing done on the JS thread for no further safety.
    pub md5: String,
    /// SHA-1 of the part (UFile's part ETag).
    pub sha1: Option<[u8; 20]>,
    /// WCS: CRC-32 of each chunk, to check the `mkblk`/`bput` replies.
    pub chunks: Vec<u32>,
}

/// A WCS chunk's CRC-32, taken here or by the platform ([`Runtime::crc32_update`]).
enum ChunkCrc {
    Here(Crc32),
    Platform(u32),
}

impl ChunkCrc {
    fn new<R: Runtime>(runtime: &R) -> Self {
        match runtime.crc32_update(0, &[]) {
            Some(crc) => ChunkCrc::Platform(crc),
            None => ChunkCrc::Here(Crc32::default()),
        }
    }

    fn update<R: Runtime>(&mut self, runtime: &R, data: &[u8]) {
        match self {
            ChunkCrc::Here(crc) => crc.update(data),
            // The platform said it can; should it fail after all, take this piece here, and the
            // rest of the chunk too.
            ChunkCrc::Platform(crc) => match runtime.crc32_update(*crc, data) {
                Some(next) => *crc = next,
                None => {
                    let mut here = Crc32::with_initial(*crc);
                    here.update(data);
                    *self = ChunkCrc::Here(here);
                }
            },
        }
    }

    /// The chunk's CRC-32; the next chunk starts from a fresh one of the same kind.
    fn take<R: Runtime>(&mut self, runtime: &R) -> u32 {
        match std::mem::replace(self, ChunkCrc::new(runtime)) {
            ChunkCrc::Here(crc) => crc.finalize(),
            ChunkCrc::Platform(crc) => crc,
        }
    }
}

/// SHA-1s of a part running elsewhere: its 4 MiB etag blocks (unless the part is one UFile
/// block) and, for UFile, the whole part (its ETag).
struct Offload {
    blocks: Vec<LocalBoxFuture<'static, Option<[u8; 20]>>>,
    part: Option<LocalBoxFuture<'static, Option<[u8; 20]>>>,
}

fn start_sha1s<R: Runtime>(runtime: &R, service: ServiceKind, data: &Bytes, ufile_one_block: bool) -> Option<Offload> {
    let mut blocks = Vec::new();
    if !ufile_one_block {
        for block in data.chunks(ETAG_BLOCK_SIZE as usize) {
            blocks.push(runtime.sha1_elsewhere(&data.slice_ref(block))?);
        }
    }
    let part = match service {
        ServiceKind::Ufile => Some(runtime.sha1_elsewhere(data)?),
        _ => None,
    };
    Some(Offload { blocks, part })
}

/// Hash one part of a multipart upload and feed the whole-object hash, which must have seen
/// every byte before this part. `chunk_size` is WCS's `bput` chunk size; `last` says that no
/// part follows (only the last may end mid-block).
pub(crate) async fn hash_part<R: Runtime>(
    runtime: &R,
    service: ServiceKind,
    data: &Bytes,
    whole: &mut WholeHash,
    chunk_size: u64,
    last: bool,
) -> PartDigests {
    let len = data.len();
    // The part is whole 4 MiB etag blocks (all WCS parts; UFile's with a 4 MiB BlkSize, the
    // usual): its block digests serve the etag too, and no byte is SHA-1'd twice.
    let block = ETAG_BLOCK_SIZE as usize;
    let blockwise = whole.at_block_boundary() && service != ServiceKind::Wantu && (len.is_multiple_of(block) || last);
    let ufile_one_block = service == ServiceKind::Ufile && blockwise && len > 0 && len <= block;
    let chunk = (chunk_size.max(1) as usize).min(len.max(1));

    // SHA-1s by the platform where it can (natively on another thread, WebCrypto in wasm),
    // while MD5 and CRC-32 are taken here.
    let offload = if blockwise && len > 0 { start_sha1s(runtime, service, data, ufile_one_block) } else { None };
    let mut md5 = (service == ServiceKind::Wantu).then(Md5::default);
    let mut part_sha1 = (service == ServiceKind::Ufile && offload.is_none()).then(Sha1::default);
    let mut block_sha1 = (blockwise && !ufile_one_block && offload.is_none()).then(Sha1::default);
    let mut chunk_crc = (service == ServiceKind::Wcs).then(|| ChunkCrc::new(runtime));
    let mut chunks = Vec::new();

    let mut at = 0;
    while at < len {
        // A piece never crosses a block or chunk boundary.
        let mut end = (at + PIECE).min(len);
        if block_sha1.is_some() {
            end = end.min((at / block + 1) * block);
        }
        if chunk_crc.is_some() {
            end = end.min((at / chunk + 1) * chunk);
        }
        let piece = &data[at..end];
        if let Some(h) = part_sha1.as_mut() {
            h.update(piece);
        }
        // Only Wantu takes a part MD5, and Wantu is never blockwise.
        match (block_sha1.as_mut(), md5.as_mut()) {
            (Some(h), _) => h.update(piece),
            (None, Some(part)) => whole.update_alongside(part, piece),
            (None, None) if !blockwise => whole.update(piece),
            (None, None) => {} // block digests come from elsewhere
        }
        if let Some(crc) = chunk_crc.as_mut() {
            crc.update(runtime, piece);
        }
        at = end;
        if let Some(h) = block_sha1.as_mut().filter(|_| at % block == 0 || at == len) {
            whole.push_block_digest(std::mem::take(h).finalize().0);
        }
        if let Some(crc) = chunk_crc.as_mut().filter(|_| at % chunk == 0 || at == len) {
            chunks.push(crc.take(runtime));
        }
        if at < len {
            runtime.yield_now().await;
        }
    }
    if len == 0
        && let Some(crc) = chunk_crc.as_mut()
    {
        // An empty block is still one (empty) mkblk.
        chunks.push(crc.take(runtime));
    }
    let mut sha1 = part_sha1.map(|h| h.finalize().0);
    if let Some(Offload { blocks, part }) = offload {
        for (i, digest) in blocks.into_iter().enumerate() {
            let digest = match digest.await {
                Some(d) => d,
                None => Sha1::digest(&data[i * block..((i + 1) * block).min(len)]).0,
            };
            whole.push_block_digest(digest);
        }
        if let Some(digest) = part {
            sha1 = Some(digest.await.unwrap_or_else(|| Sha1::digest(data).0));
        }
    }
    if ufile_one_block {
        whole.push_block_digest(sha1.expect("UFile parts are SHA-1'd"));
    }
    let md5 = md5.map(|h| h.finalize().to_hex()).unwrap_or_default();
    let check = match (service, sha1) {
        (ServiceKind::Wcs, _) => chunks.iter().map(|c| format!("{c:08x}")).collect::<Vec<_>>().join(","),
        (ServiceKind::Ufile, Some(sha1)) => crate::encoding::hex_lower(sha1),
        _ => md5.clone(),
    };
    PartDigests { check, md5, sha1, chunks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::UfilePartEtag;
    use crate::testing::block_on;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Counts yields and SHA-1s done "elsewhere" (when `offload`, here too, but through the
    /// engine's offload path) and CRC-32 calls to the "platform" (when it has them: as many as
    /// `crc_calls_left`, then it fails); time and randomness are not used by hashing.
    #[derive(Default)]
    struct Yields {
        yields: std::cell::Cell<u32>,
        offload: bool,
        offloaded: std::cell::Cell<u32>,
        crc_calls_left: Option<std::cell::Cell<u32>>,
        crc_calls: std::cell::Cell<u32>,
    }
    impl Runtime for Yields {
        async fn sleep(&self, _ms: u64) {}
        async fn yield_now(&self) {
            self.yields.set(self.yields.get() + 1);
        }
        fn sha1_elsewhere(&self, data: &Bytes) -> Option<LocalBoxFuture<'static, Option<[u8; 20]>>> {
            if !self.offload {
                return None;
            }
            self.offloaded.set(self.offloaded.get() + 1);
            let digest = Sha1::digest(data).0;
            Some(Box::pin(async move { Some(digest) }))
        }
        fn crc32_update(&self, crc: u32, data: &[u8]) -> Option<u32> {
            let left = self.crc_calls_left.as_ref().filter(|left| left.get() > 0)?;
            left.set(left.get() - 1);
            self.crc_calls.set(self.crc_calls.get() + 1);
            let mut crc = Crc32::with_initial(crc);
            crc.update(data);
            Some(crc.finalize())
        }
        fn now_ms(&self) -> u64 {
            0
        }
        fn random(&self) -> f64 {
            0.0
        }
    }

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect()
    }

    const MIB: usize = 1024 * 1024;

    /// Parts hashed one by one give the whole-object etag and every part's own hashes, exactly
    /// as hashing each thing separately would, for every service and awkward sizes.
    #[test]
    fn parts_hash_like_one_shot() {
        let here = Yields::default();
        parts_hash_like_one_shot_with(&here);
        assert!(here.yields.get() > 40, "hashing yields between pieces");
        let elsewhere = Yields { offload: true, ..Default::default() };
        parts_hash_like_one_shot_with(&elsewhere);
        assert!(elsewhere.offloaded.get() > 10, "SHA-1s go elsewhere when the runtime can");
        let platform = Yields { crc_calls_left: Some(u32::MAX.into()), ..Default::default() };
        parts_hash_like_one_shot_with(&platform);
        assert!(platform.crc_calls.get() > 40, "CRC-32s go to the platform when it has one");
        // A platform that fails in the middle of a chunk: the chunk and the rest are taken here.
        let failing = Yields { crc_calls_left: Some(25.into()), ..Default::default() };
        parts_hash_like_one_shot_with(&failing);
        assert_eq!(failing.crc_calls.get(), 25);
    }

    fn parts_hash_like_one_shot_with(runtime: &Yields) {
        // (service, part size, WCS chunk size, content length)
        let cases = [
            (ServiceKind::Wcs, 4 * MIB, 4 * MIB, 9 * MIB + 7),
            (ServiceKind::Wcs, 8 * MIB, 3 * MIB, 17 * MIB),
            (ServiceKind::Wcs, 4 * MIB, 1000, 4 * MIB + 1),
            (ServiceKind::Ufile, 4 * MIB, 0, 9 * MIB + 3),
            (ServiceKind::Ufile, 8 * MIB, 0, 12 * MIB + 5),
            (ServiceKind::Ufile, 3 * MIB, 0, 10 * MIB),
            (ServiceKind::Wantu, 2 * MIB, 0, 5 * MIB + 1),
        ];
        for (service, part_size, chunk_size, len) in cases {
            let data = Bytes::from(content(len));
            let mut whole = WholeHash::new(service);
            let count = len.div_ceil(part_size);
            for (n, part) in data.chunks(part_size).enumerate() {
                let part = data.slice_ref(part);
                let chunk = (chunk_size as u64).min(part.len() as u64).max(1);
                let d = block_on(hash_part(runtime, service, &part, &mut whole, chunk, n + 1 == count));
                let what = format!("{service:?} part {n} of {len} bytes in {part_size}");
                match service {
                    ServiceKind::Wcs => {
                        let want: Vec<u32> = part.chunks(chunk as usize).map(Crc32::digest).collect();
                        assert_eq!(d.chunks, want, "{what}");
                        let joined: Vec<String> = want.iter().map(|c| format!("{c:08x}")).collect();
                        assert_eq!(d.check, joined.join(","), "{what}");
                        assert_eq!((d.md5.as_str(), d.sha1), ("", None), "{what}");
                    }
                    ServiceKind::Ufile => {
                        assert_eq!(d.md5, "", "{what}");
                        assert_eq!(d.check, Sha1::digest(&part).to_hex(), "{what}");
                        assert!(d.chunks.is_empty(), "{what}");
                    }
                    ServiceKind::Wantu => {
                        assert_eq!(d.md5, Md5::digest(&part).to_hex(), "{what}");
                        assert_eq!(d.check, d.md5, "{what}");
                        assert!(d.chunks.is_empty(), "{what}");
                    }
                }
                if service == ServiceKind::Ufile {
                    let etag = crate::encoding::urlsafe_b64(d.sha1.expect("UFile parts have a SHA-1"));
                    assert_eq!(etag, UfilePartEtag::digest(&part), "{what}");
                }
            }
            let want = match service {
                ServiceKind::Wcs => WcsEtag::digest(&data),
                ServiceKind::Ufile => UfileEtag::digest(&data),
                ServiceKind::Wantu => Md5::digest(&data).to_hex_upper(),
            };
            assert_eq!(whole.finish(), want, "{service:?}, {len} bytes in parts of {part_size}");
        }
    }
}
