//! Slice upload (wcs.md §5): `mkblk`, `bput`, `mkfile`.
//!
//! Each block is an `uploads` row (bucket, no key yet) whose info JSON is a [`BlockInfo`]; each
//! accepted chunk is a part blob numbered in arrival order. A ctx is `<block id>-<part number>`
//! and names the block state that ends with that chunk. `bput` must continue exactly where its
//! ctx ends (else 701); continuing from an *earlier* ctx of the block is allowed and drops the
//! chunks after it — that is what a client retrying a chunk whose reply it never got does
//! (Qiniu-style ctxs are states, not tickets; the strict WCS rule is UNVERIFIED).
//!
//! Crash safety: a chunk's bytes are a synced blob before its part row is committed, and the
//! block's info (the chain of chunks that the next ctx continues) is updated only after that, so
//! a ctx that was answered always refers to committed bytes. A crash in between leaves an unused
//! part, never a half-written one.

use std::collections::HashMap;

use axum::body::to_bytes;
use axum::extract::Request;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::template::{self, Vars};
use super::{
    BlobGuard, Call, ReplyStyle, UploadAuth, WcsError, WcsResult, access_url, check_key, check_upload_token, client_ip,
    json_reply, upload_reply,
};
use crate::http::{AppState, header_text};
use crate::store::{Blob, DigestSet, ObjectAttrs, Service, Upload};

/// Block state changes (append a chunk; consume blocks into an object) are serialised. The
/// slow parts — receiving chunk bytes, concatenating blocks — happen outside the lock.
static BLOCK_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Largest `mkfile` body (the comma-joined ctxs): ~45 bytes per block.
const MKFILE_BODY_LIMIT: usize = 8 << 20;

/// A block's state, stored as the upload row's info JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BlockInfo {
    /// Declared block size (`/mkblk/<blockSize>`).
    size: u64,
    order: u64,
    /// The access key of the token that created it: only that key may continue or commit it.
    ak: String,
    /// `(part number, block offset after that chunk)` of the chunks that make up the block.
    chain: Vec<(u64, u64)>,
    next_part: u64,
    #[serde(default)]
    batch: String,
}

impl BlockInfo {
    fn received(&self) -> u64 {
        self.chain.last().map_or(0, |c| c.1)
    }
}

fn ctx_of(block: &str, part: u64) -> String {
    format!("{block}-{part}")
}

fn parse_ctx(ctx: &str) -> Option<(&str, u64)> {
    let (block, part) = ctx.trim().rsplit_once('-')?;
    let valid_id = !block.is_empty() && block.bytes().all(|b| b.is_ascii_alphanumeric());
    valid_id.then_some(())?;
    Some((block, part.parse().ok()?))
}

fn token_header(req: &Request) -> Option<&str> {
    req.headers().get("authorization").and_then(|v| v.to_str().ok())
}

fn declared_length(req: &Request) -> Option<u64> {
    header_text(req.headers(), "content-length").parse().ok()
}

/// `check`'s verdict on a chunk request before its body is read. Refused, the body is read
/// anyway: a client still sending a 4 MiB chunk would see a reset connection instead of the
/// 701 or 401 that tells it what to do (restart the block, fetch a new token).
async fn checked<T>(req: Request, check: impl FnOnce(&Request) -> WcsResult<T>) -> WcsResult<(T, Request)> {
    match check(&req) {
        Ok(value) => Ok((value, req)),
        Err(e) => {
            let (parts, body) = req.into_parts();
            crate::http::drain_unread(&parts.headers, body).await;
            Err(e)
        }
    }
}

/// The JSON reply of `mkblk` and `bput`: the new ctx, the chunk's MD5 hex and CRC-32, and the
/// block offset where the next chunk starts.
fn chunk_reply(ctx: &str, chunk: &Blob, offset: u64) -> Response {
    let body = serde_json::json!({
        "ctx": ctx,
        "checksum": chunk.digests.md5(),
        "crc32": chunk.digests.crc32,
        "offset": offset,
    });
    json_reply(200, body.to_string())
}

/// Load a block for `auth`: unknown blocks and blocks of another bucket or key are 701.
fn load_block(state: &AppState, auth: &UploadAuth, block: &str) -> WcsResult<(Upload, BlockInfo)> {
    let upload = state
        .store
        .upload(Service::Wcs, block)?
        .ok_or_else(|| WcsError::new(701, format!("unknown ctx: block {block} does not exist (or was used)")))?;
    let info: BlockInfo = serde_json::from_str(&upload.info)
        .map_err(|e| WcsError::new(500, format!("block {block} has unreadable state: {e}")))?;
    if upload.bucket != auth.bucket || info.ak != auth.access_key {
        return Err(WcsError::new(701, format!("ctx of block {block} belongs to another bucket or access key")));
    }
    Ok((upload, info))
}

/// `POST /mkblk/<blockSize>/<blockOrder>`: create a block with its first chunk (the body).
pub async fn mkblk(state: &AppState, req: Request, args: &[&str]) -> WcsResult<Response> {
    let size = args.first().and_then(|s| s.parse::<u64>().ok());
    let order = match args.get(1).filter(|s| !s.is_empty()) {
        Some(o) => o.parse::<u64>().ok(),
        None => Some(0),
    };
    let ((size, order, auth), req) = checked(req, |req| {
        let (Some(size), Some(order)) = (size, order) else {
            return Err(WcsError::new(400, "mkblk wants /mkblk/<blockSize>/<blockOrder> with integers"));
        };
        let auth = check_upload_token(state, token_header(req))?;
        if declared_length(req).is_some_and(|n| n > size) {
            return Err(WcsError::new(400, format!("the chunk is larger than the declared block size {size}")));
        }
        Ok((size, order, auth))
    })
    .await?;
    let batch = header_text(req.headers(), "uploadbatch").to_owned();
    let chunk = state.store.write_blob(req.into_body().into_data_stream(), Some(size)).await?;
    let mut guard = BlobGuard::new(&state.store, &chunk.id);
    let info =
        BlockInfo { size, order, ak: auth.access_key.clone(), chain: vec![(0, chunk.size)], next_part: 1, batch };
    let info_text = serde_json::to_string(&info).map_err(|e| WcsError::new(500, e.to_string()))?;
    let upload = state.store.create_upload(Service::Wcs, &auth.bucket, "", &info_text)?;
    if let Err(e) = state.store.put_part(&upload.id, 0, &chunk, "{}") {
        let _ = state.store.abort_upload(&upload.id);
        return Err(e.into());
    }
    guard.keep();
    Ok(chunk_reply(&ctx_of(&upload.id, 0), &chunk, chunk.size))
}

/// `POST /bput/<ctx>/<offset>`: the next chunk of a block, at the block offset where `ctx` ends.
pub async fn bput(state: &AppState, req: Request, args: &[&str]) -> WcsResult<Response> {
    let ((auth, block, part, offset, room), req) = checked(req, |req| {
        let (ctx, offset) = match args {
            [ctx, offset] => match offset.parse::<u64>() {
                Ok(offset) => (ctx.to_owned(), offset),
                Err(_) => return Err(WcsError::new(400, format!("bput offset {offset:?} is not a number"))),
            },
            _ => return Err(WcsError::new(400, "bput wants /bput/<ctx>/<offset>")),
        };
        let auth = check_upload_token(state, token_header(req))?;
        let (block, part) = parse_ctx(ctx).ok_or_else(|| WcsError::new(701, format!("malformed ctx {ctx:?}")))?;
        let (_, info) = load_block(state, &auth, block)?;
        let end = continue_from(&info, block, part, offset)?;
        let room = info.size.saturating_sub(end);
        if declared_length(req).is_some_and(|n| n > room) {
            return Err(WcsError::new(400, format!("the chunk does not fit: the block has {room} bytes left")));
        }
        Ok((auth, block, part, offset, room))
    })
    .await?;
    let chunk = state.store.write_blob(req.into_body().into_data_stream(), Some(room)).await?;
    let mut guard = BlobGuard::new(&state.store, &chunk.id);

    let _lock = BLOCK_LOCK.lock().await;
    // Re-check: another request may have changed or consumed the block meanwhile.
    let (_, mut info) = load_block(state, &auth, block)?;
    let end = continue_from(&info, block, part, offset)?;
    let number = info.next_part;
    let position = info.chain.iter().position(|c| c.0 == part).unwrap_or(info.chain.len());
    info.chain.truncate(position + 1);
    info.chain.push((number, end + chunk.size));
    info.next_part += 1;
    let info_text = serde_json::to_string(&info).map_err(|e| WcsError::new(500, e.to_string()))?;
    state.store.put_part(block, number, &chunk, "{}").map_err(|e| match e {
        crate::store::StoreError::NotFound(_) => WcsError::new(701, format!("block {block} was used by mkfile")),
        other => other.into(),
    })?;
    guard.keep();
    state.store.set_upload_info(block, &info_text)?;
    Ok(chunk_reply(&ctx_of(block, number), &chunk, info.received()))
}

/// Where a chunk continuing from ctx part `part` starts; 701 unless `offset` is exactly that.
fn continue_from(info: &BlockInfo, block: &str, part: u64, offset: u64) -> WcsResult<u64> {
    let end =
        info.chain.iter().find(|c| c.0 == part).map(|c| c.1).ok_or_else(|| {
            WcsError::new(701, format!("ctx {} is not a state of block {block}", ctx_of(block, part)))
        })?;
    if offset != end {
        return Err(WcsError::new(
            701,
            format!("offset {offset} does not match the ctx: the next chunk starts at {end}"),
        ));
    }
    Ok(end)
}

/// Path pairs after `/mkfile/<fileSize>`: empty segments skipped (PHP sends a trailing slash),
/// values URL-safe base64.
fn path_pairs(args: &[&str]) -> WcsResult<Vec<(String, String)>> {
    let segments: Vec<&str> = args.iter().copied().filter(|s| !s.is_empty()).collect();
    let mut pairs = Vec::new();
    for pair in segments.chunks(2) {
        let [name, value] = pair else { break };
        let name = crate::http::percent_decode(name);
        let value = decode_b64_text(value).map_err(|_| {
            WcsError::new(400, format!("mkfile path parameter {name}: {value:?} is not URL-safe base64"))
        })?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn decode_b64_text(text: &str) -> Result<String, ()> {
    let bytes = yunup::encoding::decode_base64_lenient(&crate::http::percent_decode(text)).map_err(|_| ())?;
    String::from_utf8(bytes).map_err(|_| ())
}

/// `POST /mkfile/<fileSize>[/key/<b64>][/x:name/<b64>]...`: the object from the blocks whose
/// last ctx the body lists, comma-joined, in order.
pub async fn mkfile(state: &AppState, req: Request, args: &[&str], call: &Call) -> WcsResult<Response> {
    let file_size = args.first().and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
        WcsError::new(400, "mkfile wants /mkfile/<fileSize>[/key/<b64 key>][/x:<name>/<b64 value>]...")
    })?;
    let pairs = path_pairs(&args[1..])?;
    let auth = check_upload_token(state, token_header(&req))?;
    let headers = req.headers().clone();
    let header_key = match header_text(&headers, "key").trim() {
        "" => None,
        text => Some(decode_b64_text(text).map_err(|_| WcsError::new(400, "the Key header is not URL-safe base64"))?),
    };
    let path_value = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    // Key: scope > `Key` header > `/key/` path segment (§5.5; header vs path UNVERIFIED).
    let key = auth.scope_key().map(str::to_owned).or(header_key).or_else(|| path_value("key")).unwrap_or_default();
    check_key(&key)?;
    let custom: Vec<(String, String)> = pairs.iter().filter(|(n, _)| n.starts_with("x:")).cloned().collect();
    let fname = path_value("fname").unwrap_or_default();
    let mime = match header_text(&headers, "mimetype").trim() {
        "" => path_value("mimeType").unwrap_or_else(|| template::mime_for(&key).to_owned()),
        m => m.to_owned(),
    };
    let mut meta = serde_json::Map::new();
    if let Ok(days) = header_text(&headers, "deadline").trim().parse::<i64>() {
        meta.insert("deadline".into(), days.into());
    }

    let body = to_bytes(req.into_body(), MKFILE_BODY_LIMIT)
        .await
        .map_err(|e| WcsError::new(400, format!("cannot read the mkfile body (the ctx list): {e}")))?;
    let text = String::from_utf8_lossy(&body);
    let ctxs: Vec<&str> = match text.trim() {
        "" => Vec::new(),
        list => list.split(',').map(str::trim).collect(),
    };
    auth.check_size(file_size)?;

    // Validate every block before any bytes move.
    let mut blocks: Vec<(String, u64, BlockInfo)> = Vec::new();
    for (i, ctx) in ctxs.iter().enumerate() {
        if ctx.is_empty() {
            return Err(WcsError::new(400, format!("entry {i} of the ctx list is empty")));
        }
        let (block, part) = parse_ctx(ctx).ok_or_else(|| WcsError::new(701, format!("malformed ctx {ctx:?}")))?;
        if blocks.iter().any(|b| b.0 == block) {
            return Err(WcsError::new(400, format!("block {block} is listed twice")));
        }
        let (_, info) = load_block(state, &auth, block).map_err(|e| match e.status {
            701 => WcsError::new(412, format!("block {i} is missing ({}): upload the file again", e.message)),
            _ => e,
        })?;
        let last = info.chain.last().map_or(0, |c| c.0);
        if part != last {
            return Err(WcsError::new(701, format!("ctx {ctx} of block {i} is not the block's last ctx")));
        }
        if info.received() != info.size {
            return Err(WcsError::new(
                412,
                format!("block {i} is incomplete: {} of {} bytes received", info.received(), info.size),
            ));
        }
        blocks.push((block.to_owned(), part, info));
    }
    let total: u64 = blocks.iter().map(|b| b.2.size).sum();
    if total != file_size {
        return Err(WcsError::new(400, format!("the blocks hold {total} bytes but mkfile says {file_size}")));
    }
    if !auth.overwrite() && state.store.object(Service::Wcs, &auth.bucket, &key)?.is_some() {
        return Err(WcsError::new(406, "file exists: the key is taken and the token does not allow overwrite"));
    }

    // Assemble outside the lock (parts are immutable blobs).
    let mut parts = Vec::new();
    for (block, _, info) in &blocks {
        let mut by_number: HashMap<u64, crate::store::Part> =
            state.store.parts(block)?.into_iter().map(|p| (p.number, p)).collect();
        for (number, _) in &info.chain {
            let part = by_number
                .remove(number)
                .ok_or_else(|| WcsError::new(412, format!("block {block} lost chunk {number}: upload it again")))?;
            parts.push(part);
        }
    }
    let blob = state.store.concatenate(&parts, DigestSet::Etags).await?;
    let mut guard = BlobGuard::new(&state.store, &blob.id);
    if blob.size != file_size {
        return Err(WcsError::new(500, format!("assembled {} bytes, expected {file_size}", blob.size)));
    }

    let object = {
        let _lock = BLOCK_LOCK.lock().await;
        for (block, part, _) in &blocks {
            let (_, info) = load_block(state, &auth, block)
                .map_err(|_| WcsError::new(412, format!("block {block} was used meanwhile: upload the file again")))?;
            if info.chain.last().map(|c| c.0) != Some(*part) {
                return Err(WcsError::new(701, format!("block {block} changed meanwhile")));
            }
        }
        let meta = serde_json::Value::Object(meta).to_string();
        let attrs = ObjectAttrs { mime: &mime, meta: &meta };
        let object = state.store.put_object(Service::Wcs, &auth.bucket, &key, &blob, &attrs, auth.overwrite())?;
        guard.keep();
        for (block, _, _) in &blocks {
            let _ = state.store.abort_upload(block);
        }
        object
    };

    let url = access_url(&headers, &auth.bucket, &key);
    let ip = client_ip(&headers);
    let persistent_id = super::start_persistent_ops(state, &auth, &object, &headers);
    let vars = Vars {
        bucket: &auth.bucket,
        key: &key,
        fname: &fname,
        hash: &object.digests.wcs_etag,
        fsize: object.size,
        mime: &object.mime,
        url: &url,
        ip: &ip,
        cost_ms: call.started.elapsed().as_millis() as u64,
        persistent_id: &persistent_id,
        custom: &custom,
    };
    upload_reply(state, &auth, &vars, ReplyStyle::Slice).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctx_round_trip_and_path_pairs() {
        assert_eq!(parse_ctx(&ctx_of("abc123", 7)), Some(("abc123", 7)));
        assert_eq!(parse_ctx("nodash"), None);
        assert_eq!(parse_ctx("a,b-1"), None);
        assert_eq!(parse_ctx("-1"), None);
        let pairs = path_pairs(&["key", "YS50eHQ=", "x:pos", "YWJj", ""]).unwrap();
        assert_eq!(pairs, [("key".to_owned(), "a.txt".to_owned()), ("x:pos".to_owned(), "abc".to_owned())]);
        assert!(path_pairs(&["key", "!!!"]).is_err());
    }
}
