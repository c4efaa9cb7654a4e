//! Synchronous resource management on the WCS port (wcs.md §7, §10): bucket list, listings,
//! delete, copy, move, setdeadline and the live-recording list. Every call needs a management
//! token over `path[?query]\n<body>` (§2); errors are 401 (token), 400 (request), 631 (bucket)
//! and 404 (object).
//!
//! Listings (`GET /list`): without `mode`, every key that starts with the prefix, in key order.
//! With `mode=0`/`1` the prefix is a directory (a `/` is added when missing): its files, and its
//! sub-directories in `commonPrefixes` as full prefixes ending in `/` — files first for 0,
//! sub-directories first for 1 — and both count towards `limit`. `startTime`/`endTime` (ms)
//! filter files by upload time. The `marker` is opaque: URL-safe base64 of the phase and the last
//! key, so any SDK can pass it back unencoded; `marker` is `""` on the last page.
//!
//! `setdeadline` counts days from the object's upload time (as the form field `deadline` does;
//! UNVERIFIED for the real service): `N` > 0 sets the retention, `-1` removes it, `0` deletes the
//! object at once. For an `.m3u8` the same applies to the `.ts` files it names unless
//! `relevance=0`. Expired objects are not purged (only `0` deletes).
//!
//! `GET /wslive/list` has no documented reply (§10), so this is synthetic. **Convention**: the
//! recordings of channel `C` are the objects under `wslive/C/` whose file name starts with the
//! recording's start time `YYYYMMDDhhmmss` (e.g. `wslive/C/20240101120000.flv`); those with
//! `startTime <= time <= endTime` are listed in key order, from the 1-based `start`, at most
//! `limit`. Reply: `{"code":200,"message":"OK","total":<all matches>,"items":[{"key","fsize",
//! "hash","mimeType","putTime","startTime"}]}`.

use axum::http::request::Parts;
use axum::response::Response;
use serde_json::{Value, json};

use super::objects::{check_management, decode_entry, expiration_date, find_object, object_meta};
use super::{WcsError, WcsResult, json_reply};
use crate::http::{AppState, pair, parse_pairs};
use crate::store::{Object, ObjectAttrs, Service, Store, StoreError};

/// Largest management request body (form fields only).
pub(super) const MAX_BODY: usize = 1 << 20;

pub(super) fn ok_reply() -> Response {
    json_reply(200, json!({"code": 200, "message": "OK"}).to_string())
}

fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    parse_pairs(parts.uri.query().unwrap_or(""))
}

/// A bucket that must exist (631 otherwise).
pub(super) fn need_bucket(state: &AppState, bucket: &str) -> WcsResult<()> {
    if bucket.is_empty() {
        return Err(WcsError::new(400, "no bucket given"));
    }
    match state.store.bucket(Service::Wcs, bucket)? {
        Some(_) => Ok(()),
        None => Err(WcsError::new(631, format!("bucket {bucket:?} does not exist"))),
    }
}

/// URL-safe base64 text (lenient), as UTF-8.
pub(super) fn b64_text(what: &str, value: &str) -> WcsResult<String> {
    let bytes = yunup::encoding::decode_base64_lenient(value)
        .map_err(|_| WcsError::new(400, format!("{what} is not URL-safe base64")))?;
    String::from_utf8(bytes).map_err(|_| WcsError::new(400, format!("{what} is not UTF-8 text")))
}

fn mime(object: &Object) -> &str {
    if object.mime.is_empty() { "application/octet-stream" } else { &object.mime }
}

/// A listing entry as the SDKs read it.
pub(super) fn item_json(object: &Object) -> Value {
    json!({
        "key": object.key,
        "putTime": object.created_ms,
        "hash": object.digests.wcs_etag,
        "fsize": object.size,
        "mimeType": mime(object),
        "expirationDate": expiration_date(object),
    })
}

/// `GET /bucket/list`.
pub fn bucket_list(state: &AppState, parts: &Parts) -> WcsResult<Response> {
    check_management(state, parts)?;
    let buckets: Vec<Value> =
        state.store.buckets(Service::Wcs)?.into_iter().map(|(name, _, _)| json!({ "name": name })).collect();
    Ok(json_reply(200, json!({"code": 200, "message": "OK", "buckets": buckets}).to_string()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Flat listing: every key under the prefix.
    All,
    /// The directory's own files.
    Files,
    /// The directory's sub-directories.
    Dirs,
}

impl Phase {
    fn tag(self) -> char {
        match self {
            Phase::All => 'a',
            Phase::Files => 'f',
            Phase::Dirs => 'd',
        }
    }
    fn from_tag(tag: char) -> Option<Phase> {
        match tag {
            'a' => Some(Phase::All),
            'f' => Some(Phase::Files),
            'd' => Some(Phase::Dirs),
            _ => None,
        }
    }
}

enum Entry {
    File(Box<Object>),
    Dir(String),
}

/// Past every key under `dir` (keys are valid UTF-8, so none sorts after U+10FFFF).
fn after_subtree(dir: &str) -> String {
    format!("{dir}\u{10FFFF}")
}

/// What a listing walks: a bucket, a prefix (a directory with a mode), an upload-time window.
struct Listing<'a> {
    store: &'a Store,
    bucket: &'a str,
    dir: &'a str,
    window: (u64, u64),
}

/// Collect up to `want` entries of `phase` after `cursor`; each with the cursor to resume after it.
fn scan(
    listing: &Listing<'_>,
    phase: Phase,
    mut cursor: String,
    want: usize,
    out: &mut Vec<(Entry, Phase, String)>,
) -> WcsResult<()> {
    const BATCH: usize = 500;
    let Listing { store, bucket, dir, window } = *listing;
    while out.len() < want {
        let batch = store.list_objects(Service::Wcs, bucket, dir, &cursor, BATCH)?;
        let full = batch.len() == BATCH;
        let mut jumped = false;
        for object in batch {
            // The store matched the prefix, so it is a char boundary; "" defends anyway.
            let rest = object.key.get(dir.len()..).unwrap_or("");
            let sub = match phase {
                Phase::All => None,
                _ => rest.split_once('/').map(|(seg, _)| format!("{dir}{seg}/")),
            };
            match sub {
                None => {
                    cursor = object.key.clone();
                    let in_window = object.created_ms >= window.0 && object.created_ms <= window.1;
                    if phase != Phase::Dirs && in_window {
                        out.push((Entry::File(Box::new(object)), phase, cursor.clone()));
                        if out.len() >= want {
                            return Ok(());
                        }
                    }
                }
                Some(sub) => {
                    cursor = after_subtree(&sub);
                    if phase == Phase::Dirs {
                        out.push((Entry::Dir(sub), phase, cursor.clone()));
                    }
                    jumped = true;
                    break;
                }
            }
        }
        if !jumped && !full {
            break;
        }
    }
    Ok(())
}

/// `GET /list?bucket=&limit=&prefix=&mode=&marker=&startTime=&endTime=`.
pub fn list(state: &AppState, parts: &Parts) -> WcsResult<Response> {
    check_management(state, parts)?;
    let q = query_pairs(parts);
    let bucket = pair(&q, "bucket").unwrap_or("");
    need_bucket(state, bucket)?;
    let limit = match pair(&q, "limit").filter(|l| !l.is_empty()) {
        None => 1000,
        Some(l) => match l.parse::<usize>() {
            Ok(n @ 1..=1000) => n,
            _ => return Err(WcsError::new(400, format!("limit must be 1 to 1000, not {l:?}"))),
        },
    };
    let prefix = match pair(&q, "prefix").filter(|p| !p.is_empty()) {
        Some(p) => b64_text("prefix", p)?,
        None => String::new(),
    };
    let mode = match pair(&q, "mode").map(str::trim) {
        Some("0") => Some(0),
        Some("1") => Some(1),
        _ => None,
    };
    let time = |name: &str| -> WcsResult<Option<u64>> {
        match pair(&q, name).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => t.parse().map(Some).map_err(|_| WcsError::new(400, format!("{name} must be milliseconds"))),
        }
    };
    let window = (time("startTime")?.unwrap_or(0), time("endTime")?.unwrap_or(u64::MAX));

    let (dir, phases) = match mode {
        None => (prefix, vec![Phase::All]),
        Some(m) => {
            let dir = if prefix.is_empty() || prefix.ends_with('/') { prefix } else { format!("{prefix}/") };
            (dir, if m == 0 { vec![Phase::Files, Phase::Dirs] } else { vec![Phase::Dirs, Phase::Files] })
        }
    };
    // Where to start: the marker's phase and cursor, else the first phase from the beginning.
    let (mut start_phase, mut cursor) = (0usize, String::new());
    if let Some(marker) = pair(&q, "marker").filter(|m| !m.is_empty()) {
        let text = b64_text("marker", marker)?;
        let mut chars = text.chars();
        let phase = chars.next().and_then(Phase::from_tag);
        let rest = chars.as_str().strip_prefix(':');
        match (phase.and_then(|p| phases.iter().position(|x| *x == p)), rest) {
            (Some(i), Some(c)) => (start_phase, cursor) = (i, c.to_owned()),
            _ => return Err(WcsError::new(400, "the marker does not belong to this listing")),
        }
    }

    let listing = Listing { store: &state.store, bucket, dir: &dir, window };
    let mut entries = Vec::new();
    for (i, phase) in phases.iter().enumerate().skip(start_phase) {
        let from = if i == start_phase { std::mem::take(&mut cursor) } else { String::new() };
        scan(&listing, *phase, from, limit + 1, &mut entries)?;
        if entries.len() > limit {
            break;
        }
    }
    let marker = if entries.len() > limit {
        entries.truncate(limit);
        let (_, phase, cursor) = &entries[limit - 1];
        yunup::encoding::urlsafe_b64(format!("{}:{cursor}", phase.tag()))
    } else {
        String::new()
    };
    let mut items = Vec::new();
    let mut prefixes = Vec::new();
    for (entry, _, _) in &entries {
        match entry {
            Entry::File(object) => items.push(item_json(object)),
            Entry::Dir(sub) => prefixes.push(Value::String(sub.clone())),
        }
    }
    Ok(json_reply(200, json!({"marker": marker, "commonPrefixes": prefixes, "items": items}).to_string()))
}

/// `POST /delete/<EncodedEntryURI>`.
pub fn delete(state: &AppState, parts: &Parts, body: &[u8], entry: &str) -> WcsResult<Response> {
    super::objects::check_management_body(state, parts, body)?;
    let (bucket, key) = decode_entry(entry)?;
    find_object(state, &bucket, &key)?;
    delete_object(&state.store, &bucket, &key)?;
    Ok(ok_reply())
}

/// Delete, 404 when the object is gone meanwhile.
pub(super) fn delete_object(store: &Store, bucket: &str, key: &str) -> WcsResult<()> {
    match store.delete_object(Service::Wcs, bucket, key) {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound(_)) => Err(WcsError::new(404, format!("file not found: {bucket}:{key}"))),
        Err(e) => Err(e.into()),
    }
}

/// Copy bytes and attributes into a new object; an object at the destination is replaced
/// (the docs: "the old file will be overwritten directly").
pub(super) async fn copy_object(store: &Store, from: &Object, bucket: &str, key: &str) -> WcsResult<Object> {
    let mut writer = store.blob_writer().await?;
    store.copy_blob_range(&from.blob, 0, from.size, &mut writer).await?;
    let blob = writer.commit().await?;
    Ok(store.put_object(Service::Wcs, bucket, key, &blob, &ObjectAttrs { mime: &from.mime, meta: &from.meta }, true)?)
}

/// Move keeps bytes, metadata and upload time; the destination is replaced.
pub(super) fn move_object(store: &Store, from: &Object, bucket: &str, key: &str) -> WcsResult<Object> {
    match store.rename_object(Service::Wcs, (&from.bucket, &from.key), (bucket, key), true) {
        Ok(object) => Ok(object),
        Err(StoreError::NotFound(_)) => {
            Err(WcsError::new(404, format!("file not found: {}:{}", from.bucket, from.key)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /copy/<src>/<dst>` and `POST /move/<src>/<dst>`.
pub async fn copy_or_move(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    src: &str,
    dst: &str,
    is_move: bool,
) -> WcsResult<Response> {
    super::objects::check_management_body(state, parts, body)?;
    let (src_bucket, src_key) = decode_entry(src)?;
    let (dst_bucket, dst_key) = decode_entry(dst)?;
    let from = find_object(state, &src_bucket, &src_key)?;
    need_bucket(state, &dst_bucket)?;
    super::check_key(&dst_key)?;
    if is_move {
        move_object(&state.store, &from, &dst_bucket, &dst_key)?;
    } else if (src_bucket.as_str(), src_key.as_str()) != (dst_bucket.as_str(), dst_key.as_str()) {
        copy_object(&state.store, &from, &dst_bucket, &dst_key).await?;
    }
    Ok(ok_reply())
}

/// The `.ts` (and nested playlist) keys an m3u8 names, resolved against its directory; absolute
/// URLs count by their path.
pub(super) async fn m3u8_segments(store: &Store, playlist: &Object) -> Vec<String> {
    if playlist.size > 16 << 20 {
        return Vec::new();
    }
    let Ok(bytes) = tokio::fs::read(store.blob_path(&playlist.blob)).await else { return Vec::new() };
    let text = String::from_utf8_lossy(&bytes);
    let dir = playlist.key.rsplit_once('/').map_or(String::new(), |(d, _)| format!("{d}/"));
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let path = match line.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]).to_owned(),
            None => line.to_owned(),
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        let key = match path.strip_prefix('/') {
            Some(absolute) => absolute.to_owned(),
            None => format!("{dir}{path}"),
        };
        let key = crate::http::percent_decode(&key);
        if !key.is_empty() && key != playlist.key && !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Apply a retention to one object: `-1` clears it, `0` deletes, `N` sets N days.
pub(super) fn apply_deadline(store: &Store, object: &Object, days: i64) -> WcsResult<()> {
    if days == 0 {
        return delete_object(store, &object.bucket, &object.key);
    }
    let mut meta = match object_meta(object) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    if days < 0 {
        meta.remove("deadline");
    } else {
        meta.insert("deadline".into(), days.into());
    }
    match store.set_object_meta(Service::Wcs, &object.bucket, &object.key, &Value::Object(meta).to_string()) {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound(_)) => Err(WcsError::new(404, format!("file not found: {}", object.key))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /setdeadline` with `bucket=<b64>&key=<b64>&deadline=<days>` (or `deleteAfterDays`).
pub async fn set_deadline(state: &AppState, parts: &Parts, body: &[u8]) -> WcsResult<Response> {
    super::objects::check_management_body(state, parts, body)?;
    let fields = parse_pairs(&String::from_utf8_lossy(body));
    let bucket = b64_text("bucket", pair(&fields, "bucket").unwrap_or(""))?;
    let key = b64_text("key", pair(&fields, "key").unwrap_or(""))?;
    let days_text = pair(&fields, "deadline")
        .or_else(|| pair(&fields, "deleteAfterDays"))
        .ok_or_else(|| WcsError::new(400, "no deadline: send deadline=<days> (or deleteAfterDays)"))?;
    let days = match days_text.trim().parse::<i64>() {
        Ok(d) if d >= -1 => d,
        _ => return Err(WcsError::new(400, format!("deadline is a number of days, 0 or -1, not {days_text:?}"))),
    };
    let relevance = pair(&fields, "relevance").map(str::trim) != Some("0");
    let object = find_object(state, &bucket, &key)?;
    if relevance && key.to_ascii_lowercase().ends_with(".m3u8") {
        for segment in m3u8_segments(&state.store, &object).await {
            if let Some(ts) = state.store.object(Service::Wcs, &bucket, &segment)? {
                apply_deadline(&state.store, &ts, days)?;
            }
        }
    }
    apply_deadline(&state.store, &object, days)?;
    Ok(ok_reply())
}

fn timestamp14(value: Option<&str>, name: &str) -> WcsResult<String> {
    match value.map(str::trim) {
        Some(t) if t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()) => Ok(t.to_owned()),
        other => Err(WcsError::new(400, format!("{name} must be YYYYMMDDhhmmss, not {:?}", other.unwrap_or("")))),
    }
}

/// `GET /wslive/list?channelname=&startTime=&endTime=&bucket=[&start=][&limit=]` (synthetic; see
/// the module docs for the key convention).
pub fn wslive_list(state: &AppState, parts: &Parts) -> WcsResult<Response> {
    check_management(state, parts)?;
    let q = query_pairs(parts);
    let channel = pair(&q, "channelname").unwrap_or("").trim().to_owned();
    if channel.is_empty() {
        return Err(WcsError::new(400, "no channelname given"));
    }
    let start_time = timestamp14(pair(&q, "startTime"), "startTime")?;
    let end_time = timestamp14(pair(&q, "endTime"), "endTime")?;
    let bucket = pair(&q, "bucket").unwrap_or("");
    need_bucket(state, bucket)?;
    let number = |name: &str, default: usize| -> WcsResult<usize> {
        match pair(&q, name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| WcsError::new(400, format!("{name} must be a number, not {v:?}"))),
        }
    };
    let start = number("start", 1)?.max(1);
    let limit = number("limit", usize::MAX)?;
    let prefix = format!("wslive/{channel}/");
    let mut matches = Vec::new();
    let mut cursor = String::new();
    loop {
        let batch = state.store.list_objects(Service::Wcs, bucket, &prefix, &cursor, 1000)?;
        let done = batch.len() < 1000;
        for object in batch {
            cursor = object.key.clone();
            let name = object.key.get(prefix.len()..).unwrap_or("");
            let Some(time) = name.get(..14).filter(|t| t.bytes().all(|b| b.is_ascii_digit())) else { continue };
            if time >= start_time.as_str() && time <= end_time.as_str() {
                let mut item = item_json(&object);
                item["startTime"] = Value::String(time.to_owned());
                matches.push(item);
            }
        }
        if done {
            break;
        }
    }
    let total = matches.len();
    let items: Vec<Value> = matches.into_iter().skip(start - 1).take(limit).collect();
    Ok(json_reply(200, json!({"code": 200, "message": "OK", "total": total, "items": items}).to_string()))
}
