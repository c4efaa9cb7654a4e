//! Form upload `POST /file/upload` and append upload `POST /append/<position>` (wcs.md §3).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::Response;

use super::template::{self, Vars};
use super::{
    BlobGuard, Call, ReplyStyle, UploadAuth, WcsError, WcsResult, access_url, check_key, check_upload_token, client_ip,
    redirect, upload_reply,
};
use crate::http::{AppState, header_text};
use crate::multipart::{self, Form, FormError};
use crate::store::{DigestSet, Object, ObjectAttrs, Service, StoreError};

/// Appends are serialised: read the object, write old + new bytes, store.
static APPEND_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn upload(state: &AppState, req: Request, append: Option<u64>, call: &Call) -> WcsResult<Response> {
    let (parts, body) = req.into_parts();
    let content_type = header_text(&parts.headers, "content-type");
    let Some(boundary) = multipart::boundary(content_type) else {
        let e =
            WcsError::new(400, format!("expected a multipart/form-data body with a boundary, got {content_type:?}"));
        crate::http::drain_unread(&parts.headers, body).await;
        return Err(e);
    };
    let form =
        multipart::read_form(&state.store, &boundary, body.into_data_stream(), None, DigestSet::WithMd5, &["file"])
            .await
            .map_err(|e| match e {
                FormError::Malformed(m) => WcsError::new(400, format!("malformed multipart form: {m}")),
                FormError::Store(e) => WcsError::from(e),
            })?;
    let mut guard = form.file.as_ref().map(|f| BlobGuard::new(&state.store, &f.blob.id));
    let auth = check_upload_token(state, form.field("token"))?;
    match store_form(state, &parts, &form, &auth, append, call, &mut guard).await {
        Ok(response) => Ok(response),
        // With a returnUrl, failures redirect too (Java SDK javadoc; UNVERIFIED).
        Err(e) => match auth.policy.return_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) if auth.policy.callback_url.is_none() => {
                let message = yunup::encoding::percent_encode(&e.message, false);
                Ok(redirect(url, &format!("code={}&message={message}", e.status)))
            }
            _ => Err(e),
        },
    }
}

async fn store_form(
    state: &AppState,
    parts: &Parts,
    form: &Form,
    auth: &UploadAuth,
    append: Option<u64>,
    call: &Call,
    guard: &mut Option<BlobGuard>,
) -> WcsResult<Response> {
    let file = form.file.as_ref().ok_or_else(|| WcsError::new(400, "the form has no file part (field `file`)"))?;
    auth.check_size(file.blob.size)?;
    let fname = file.filename.clone().unwrap_or_default();
    let custom: Vec<(String, String)> =
        form.fields.iter().filter(|(k, _)| k.starts_with("x:")).map(|(k, v)| (k.clone(), v.clone())).collect();
    let form_mime = form.field("mimeType").map(str::trim).filter(|m| !m.is_empty());

    // Key: scope key > form `key` > `saveKey` > the file part's filename (§3.1).
    let key = match (auth.scope_key(), form.field("key").filter(|k| !k.is_empty())) {
        (Some(k), _) | (None, Some(k)) => k.to_owned(),
        (None, None) => match auth.policy.save_key.as_deref().filter(|s| !s.is_empty()) {
            Some(save_key) => {
                let vars = Vars {
                    bucket: &auth.bucket,
                    fname: &fname,
                    hash: &file.blob.digests.wcs_etag,
                    fsize: file.blob.size,
                    mime: form_mime.unwrap_or(""),
                    custom: &custom,
                    ..Default::default()
                };
                template::render(save_key, &vars)
            }
            None => fname.clone(),
        },
    };
    check_key(&key)?;
    let mime = form_mime.unwrap_or_else(|| template::mime_for(&key)).to_owned();
    let mut meta = serde_json::Map::new();
    if let Some(days) = form.field("deadline").and_then(|d| d.trim().parse::<i64>().ok()) {
        meta.insert("deadline".into(), days.into());
    }

    let object = match append {
        None => {
            let meta = serde_json::Value::Object(meta).to_string();
            let stored = state.store.put_object(
                Service::Wcs,
                &auth.bucket,
                &key,
                &file.blob,
                &ObjectAttrs { mime: &mime, meta: &meta },
                auth.overwrite(),
            );
            let object = stored?;
            if let Some(g) = guard.as_mut() {
                g.keep();
            }
            object
        }
        Some(position) => {
            meta.insert("appendable".into(), true.into());
            append_object(state, auth, &key, position, &file.blob, &mime, meta).await?
        }
    };

    let url = access_url(&parts.headers, &auth.bucket, &key);
    let ip = client_ip(&parts.headers);
    let persistent_id = super::start_persistent_ops(state, auth, &object, &parts.headers);
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
    let mut response = upload_reply(state, auth, &vars, ReplyStyle::Form).await?;
    if append.is_some() {
        response.headers_mut().insert("x-wcs-next-append-position", HeaderValue::from(object.size));
    }
    Ok(response)
}

/// Append `piece` at `position`: the object must be absent (position 0) or appendable and
/// exactly `position` bytes long; otherwise 409 (OSS's status for the same case; the WCS code is
/// UNVERIFIED).
async fn append_object(
    state: &AppState,
    auth: &UploadAuth,
    key: &str,
    position: u64,
    piece: &crate::store::Blob,
    mime: &str,
    mut meta: serde_json::Map<String, serde_json::Value>,
) -> WcsResult<Object> {
    let _lock = APPEND_LOCK.lock().await;
    let store = &state.store;
    let existing = store.object(Service::Wcs, &auth.bucket, key)?;
    let mut writer = store.blob_writer().await?;
    let mut mime = mime.to_owned();
    match &existing {
        Some(old) => {
            let old_meta: serde_json::Value = serde_json::from_str(&old.meta).unwrap_or_default();
            if old_meta.get("appendable") != Some(&serde_json::Value::Bool(true)) {
                return Err(WcsError::new(409, format!("{key:?} exists and is not an appendable object")));
            }
            if position != old.size {
                return Err(WcsError::new(
                    409,
                    format!("append position {position} does not match the object's length {}", old.size),
                ));
            }
            if let Some(deadline) = old_meta.get("deadline").filter(|_| !meta.contains_key("deadline")) {
                meta.insert("deadline".into(), deadline.clone());
            }
            mime = old.mime.clone();
            store.copy_blob_range(&old.blob, 0, old.size, &mut writer).await?;
        }
        None if position != 0 => {
            return Err(WcsError::new(409, format!("append position {position}: {key:?} does not exist yet, use 0")));
        }
        None => {}
    }
    store.copy_blob_range(&piece.id, 0, piece.size, &mut writer).await?;
    let blob = writer.commit().await?;
    let meta = serde_json::Value::Object(meta).to_string();
    match store.put_object(Service::Wcs, &auth.bucket, key, &blob, &ObjectAttrs { mime: &mime, meta: &meta }, true) {
        Ok(object) => Ok(object),
        Err(StoreError::Exists) => Err(WcsError::new(409, "the object changed during the append")),
        Err(e) => Err(e.into()),
    }
}
