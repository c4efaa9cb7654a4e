//! Hash vectors from `shared/protocols/*.md` (and recomputed with Python's hashlib), plus the
//! property every hasher must have: any split of the input gives the one-shot answer.

use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const MIB: usize = 1024 * 1024;

/// Content generators for the vectors, so the tests need no fixture files.
fn repeat(byte: u8, len: usize) -> Vec<u8> {
    vec![byte; len]
}

/// 2 MiB of `U`, 2 MiB of `M` (the Go/C# SDK test data), optionally followed by `tail`.
fn umu(tail: &[u8]) -> Vec<u8> {
    let mut d = repeat(b'U', 2 * MIB);
    d.extend(repeat(b'M', 2 * MIB));
    d.extend_from_slice(tail);
    d
}

#[test]
fn wcs_etag_vectors() {
    let mut six = umu(&[]);
    six.extend(repeat(b'U', 2 * MIB));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "Fto5o-5ea0sNMlW_75VgGJCv2AcJ"),
        (b"hello world".to_vec(), "FiqubDXJT8-0FdvpX0CLnOke6Ebt"),
        (b"UMUTech@qq.com".to_vec(), "FpAEzHGOWdh-QAYhattxl1vqHLMw"),
        (umu(b"0"), "ljQoZqmvLKtOnK_5OHnMRw1djggC"),
        (umu(&[]), "FmPOIJPovOxpDXlg5-ck6eTU8NUJ"),
        (six, "lrF9_0PPkhwAX_ghfNQVIQm5IJxK"),
    ];
    for (data, want) in cases {
        assert_eq!(WcsEtag::digest(&data), want, "len {}", data.len());
    }
}

#[test]
fn ufile_etag_vectors() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "AAAAANo5o-5ea0sNMlW_75VgGJCv2AcJ"),
        (b"hello".to_vec(), "AQAAAKr0xh3cxeii2r7eDztILNmuqUNN"),
        (repeat(0, 4 * MIB), "AQAAACvMvS848VwT631aif2dhfWV4jvD"),
        (repeat(0, 4 * MIB + 1), "AgAAABCFgki5yzon0rjN9uJusf6qtsF6"),
        (repeat(b'a', 10 * MIB), "AwAAAK4kcKeYmH-rNr_fwfiueEW7ZbvY"),
    ];
    for (data, want) in cases {
        assert_eq!(UfileEtag::digest(&data), want, "len {}", data.len());
    }
}

#[test]
fn ufile_part_etag_vector() {
    // ListParts documentation example: a 4 MiB part of zeros.
    assert_eq!(UfilePartEtag::digest(&repeat(0, 4 * MIB)), "K8y9LzjxXBPrfVqJ_Z2F9ZXiO8M=");
}

#[test]
fn plain_digest_vectors() {
    let md5 = Md5::digest(b"hello world");
    assert_eq!(md5.to_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(md5.to_hex_upper(), "5EB63BBBE01EEED093CB22BB8F5ACDC3");
    assert_eq!(Md5::digest(b"hello").to_hex(), "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(Sha1::digest(b"hello world").to_hex(), "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
    assert_eq!(Crc32::digest(b"hello world"), 222957957);
}

/// A CRC-32 begun elsewhere (zlib's `crc32(crc, data)` continues from a finished CRC) is
/// finished here with the same result.
#[test]
fn crc32_continues_from_a_finished_crc() {
    let mut rest = Crc32::with_initial(Crc32::digest(b"hello "));
    rest.update(b"world");
    assert_eq!(rest.finalize(), 222957957);
    assert_eq!(Crc32::with_initial(0).finalize(), 0);
    let data: Vec<u8> = (0..100_003u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let mut rest = Crc32::with_initial(Crc32::digest(&data[..40_000]));
    rest.update(&data[40_000..]);
    assert_eq!(rest.finalize(), Crc32::digest(&data));
}

#[test]
fn etag_kind_parses_and_rejects() {
    assert_eq!("WCS".parse::<EtagKind>().unwrap(), EtagKind::Wcs);
    assert_eq!("ufile".parse::<EtagKind>().unwrap(), EtagKind::Ufile);
    let err = "md5".parse::<EtagKind>().unwrap_err();
    assert!(err.message().contains("\"wcs\" or \"ufile\""), "{err}");
}

/// Feed `data` in the chunk sizes of `splits` (cycled), the way a stream would deliver it.
fn chunked<H: Hasher>(data: &[u8], splits: &[usize]) -> H::Output {
    let mut h = H::default();
    let mut rest = data;
    for &n in splits.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = n.clamp(1, rest.len());
        h.update(&rest[..n]);
        rest = &rest[n..];
    }
    h.finalize()
}

/// Chunkings that straddle the 4 MiB block boundary in awkward ways. Runs on wasm32 too.
#[test]
fn chunk_boundaries_do_not_matter() {
    let data: Vec<u8> = (0..(9 * MIB + 7)).map(|i| (i * 31 % 251) as u8).collect();
    let splittings: [&[usize]; 4] = [&[1, MIB - 1, 4 * MIB + 3], &[4 * MIB], &[4 * MIB - 1, 2], &[65536 + 17]];
    for splits in splittings {
        assert_eq!(chunked::<WcsEtag>(&data, splits), WcsEtag::digest(&data));
        assert_eq!(chunked::<UfileEtag>(&data, splits), UfileEtag::digest(&data));
        assert_eq!(chunked::<Md5>(&data, splits), Md5::digest(&data));
        assert_eq!(chunked::<Sha1>(&data, splits), Sha1::digest(&data));
        assert_eq!(chunked::<Crc32>(&data, splits), Crc32::digest(&data));
        let both = chunked::<ObjectEtags>(&data, splits);
        assert_eq!((both.wcs, both.ufile), (WcsEtag::digest(&data), UfileEtag::digest(&data)));
    }
    let empty = ObjectEtags::digest(b"");
    assert_eq!(
        (empty.wcs.as_str(), empty.ufile.as_str()),
        ("Fto5o-5ea0sNMlW_75VgGJCv2AcJ", "AAAAANo5o-5ea0sNMlW_75VgGJCv2AcJ")
    );
}

/// The etags of many full blocks, with and without a short one after them, worked out block by
/// block with the `sha1` crate: what gathering blocks and hashing four at once (wasm SIMD) must
/// give, fed in one call, in awkward chunks, unbuffered, and with digests pushed between.
#[test]
fn gathered_blocks_match_block_by_block() {
    use sha1::Digest as _;
    const BLOCK: usize = 4 * MIB;
    let data: Vec<u8> = (0..(7 * BLOCK + 5)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let sha1 = |d: &[u8]| -> [u8; 20] { sha1::Sha1::digest(d).into() };
    for len in [2 * BLOCK, 3 * BLOCK + 5, 4 * BLOCK, 5 * BLOCK, 6 * BLOCK + 5, 7 * BLOCK + 5] {
        let d = &data[..len];
        let blocks: Vec<[u8; 20]> = d.chunks(BLOCK).map(sha1).collect();
        let outer = sha1(&blocks.concat());
        let wcs = crate::encoding::urlsafe_b64([&[0x96][..], &outer].concat());
        let count = (blocks.len() as u32).to_le_bytes();
        let ufile = crate::encoding::urlsafe_b64_nopad([&count[..], &outer].concat());
        assert_eq!(WcsEtag::digest(d), wcs, "{len} bytes in one call");
        assert_eq!(UfileEtag::digest(d), ufile, "{len} bytes in one call");
        assert_eq!(chunked::<WcsEtag>(d, &[MIB + 3, 2 * BLOCK]), wcs, "{len} bytes in chunks");
        assert_eq!(chunked::<UfileEtag>(d, &[BLOCK]), ufile, "{len} bytes in blocks");
        let mut unbuffered = WcsEtag::unbuffered();
        unbuffered.update(d);
        assert_eq!(unbuffered.finalize(), wcs, "{len} bytes unbuffered");
        if blocks.len() < 4 {
            continue;
        }
        // Two blocks by their bytes (gathered), the third by its digest, the rest by bytes.
        let mut mixed = UfileEtag::default();
        mixed.update(&d[..2 * BLOCK]);
        assert!(mixed.at_block_boundary());
        mixed.push_block_digest(blocks[2]);
        mixed.update(&d[3 * BLOCK..]);
        assert_eq!(mixed.finalize(), ufile, "{len} bytes, block 3 pushed as a digest");
    }
}

/// Updates bigger than the pieces the hash crates are fed in (`digest::feed`, 64 KiB) still give
/// the crates' own one-shot digests.
#[test]
fn big_updates_match_the_crates() {
    use sha1::Digest as _;
    let data: Vec<u8> = (0..(3 * 65536 + 100)).map(|i| (i * 7 % 253) as u8).collect();
    for len in [65535, 65536, 65537, 2 * 65536 + 63, data.len()] {
        let d = &data[..len];
        let md5: [u8; 16] = md5::Md5::digest(d).into();
        let sha1: [u8; 20] = sha1::Sha1::digest(d).into();
        assert_eq!(Md5::digest(d).0, md5, "len {len}");
        assert_eq!(Sha1::digest(d).0, sha1, "len {len}");
        assert_eq!(UfilePartEtag::digest(d), crate::encoding::urlsafe_b64(sha1), "len {len}");
        assert_eq!(WcsEtag::digest(d), crate::encoding::urlsafe_b64([&[0x16][..], &sha1].concat()), "len {len}");
    }
}

/// MD5's padding (0x80, zeros, the length) at every length around one and two blocks, against
/// the md-5 crate's own digest, in one call and byte by byte.
#[test]
fn md5_padding_matches_the_crate() {
    use md5::Digest as _;
    let data: Vec<u8> = (0..200u32).map(|i| (i * 13 % 251) as u8).collect();
    for len in 0..=data.len() {
        let d = &data[..len];
        let want: [u8; 16] = md5::Md5::digest(d).into();
        assert_eq!(Md5::digest(d).0, want, "len {len}");
        assert_eq!(chunked::<Md5>(d, &[1]).0, want, "len {len} byte by byte");
    }
}

/// Two MD5s fed the same bytes with [`Md5::update_both`] (a Wantu part's and the whole file's;
/// in wasm with SIMD, side by side in two lanes) end as two plain updates would leave them: with
/// the whole file's MD5 at the same block offset as the part's or not, and in awkward chunks.
#[test]
fn md5_update_both_matches_two_updates() {
    use md5::Digest as _;
    let data: Vec<u8> = (0..(2 * MIB + 300)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let before = &data[..200_000];
    for prefix in [0, 64, 128, 37, 100_000, 199_999] {
        for len in [0, 1, 63, 64, 65, 1000, MIB, MIB + 77, 2 * MIB + 300 - 200_000] {
            for splits in [&[usize::MAX][..], &[1, 63, 65_600, 7], &[64 * 1024]] {
                let part_bytes = &data[before.len()..][..len];
                let mut whole = Md5::default();
                whole.update(&before[..prefix]);
                let mut part = Md5::default();
                let mut rest = part_bytes;
                for &n in splits.iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let n = n.min(rest.len());
                    Md5::update_both(&mut part, &mut whole, &rest[..n]);
                    rest = &rest[n..];
                }
                let what = format!("{len} bytes after {prefix}, in {splits:?}");
                let want_part: [u8; 16] = md5::Md5::digest(part_bytes).into();
                let want_whole: [u8; 16] =
                    md5::Md5::new().chain_update(&before[..prefix]).chain_update(part_bytes).finalize().into();
                assert_eq!(part.finalize().0, want_part, "part: {what}");
                assert_eq!(whole.finalize().0, want_whole, "whole: {what}");
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A small block size would make this cheaper, but the real one is what ships: inputs of up
    /// to ~9 MiB cross two block boundaries.
    fn input() -> impl Strategy<Value = Vec<u8>> {
        (0usize..3, any::<u8>(), 0usize..70_000).prop_map(|(blocks, seed, extra)| {
            let len = blocks * 4 * MIB + extra;
            (0..len).map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed)).collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_split_equals_one_shot(data in input(), splits in prop::collection::vec(1usize..6 * MIB, 1..6)) {
            prop_assert_eq!(chunked::<WcsEtag>(&data, &splits), WcsEtag::digest(&data));
            prop_assert_eq!(chunked::<UfileEtag>(&data, &splits), UfileEtag::digest(&data));
            prop_assert_eq!(chunked::<UfilePartEtag>(&data, &splits), UfilePartEtag::digest(&data));
            prop_assert_eq!(chunked::<Md5>(&data, &splits), Md5::digest(&data));
            prop_assert_eq!(chunked::<Sha1>(&data, &splits), Sha1::digest(&data));
            prop_assert_eq!(chunked::<Crc32>(&data, &splits), Crc32::digest(&data));
        }
    }
}
