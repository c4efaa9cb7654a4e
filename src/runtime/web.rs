//! Web runtime: the global `fetch`, `Blob`/`File` and `ReadableStream` sources, `localStorage`
//! checkpoints, `setTimeout`. Only globals that pages, Web Workers, Node ≥ 18 and edge runtimes
//! (workerd, Deno) all have are used, looked up at call time, so one build serves them all.

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Blob, Headers, ReadableStream, ReadableStreamDefaultReader, Request, RequestInit, Response,
};

use crate::engine::{CheckpointStore, Runtime, Source, Transport};
use crate::service::{HttpRequest, HttpResponse};
use crate::{Error, ErrorKind, Result};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (window, worker, Node, workerd alike).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> Promise;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: f64) -> JsValue;
}

fn js_message(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}

fn is_abort(value: &JsValue) -> bool {
    value.dyn_ref::<js_sys::Error>().is_some_and(|e| e.name() == "AbortError")
        || Reflect::get(value, &"name".into()).ok().and_then(|n| n.as_string()).is_some_and(|n| n == "AbortError")
}

/// A request body as a `Blob`: one copy out of wasm memory. Chromium sends a `Blob` body several
/// times faster than the same bytes given as a typed array (measured in `make bench`: a 4 MiB part
/// in 30-40 ms instead of 200-300 ms).
fn body_blob(body: &[u8]) -> Result<Blob> {
    let parts = js_sys::Array::of1(&Uint8Array::from(body));
    Blob::new_with_u8_array_sequence(&parts)
        .map_err(|e| Error::invalid_input(format!("cannot make a request body: {}", js_message(&e))))
}

/// HTTP through the global `fetch`. An `AbortSignal`, when given, aborts every request in flight.
#[derive(Clone, Debug, Default)]
pub struct FetchTransport {
    signal: Option<AbortSignal>,
}

impl FetchTransport {
    pub fn new(signal: Option<AbortSignal>) -> Self {
        FetchTransport { signal }
    }
}

impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        let headers = Headers::new().map_err(|e| Error::invalid_input(js_message(&e)))?;
        for (name, value) in &request.headers {
            headers
                .append(name, value)
                .map_err(|e| Error::invalid_input(format!("header {name}: {}", js_message(&e))))?;
        }
        init.set_headers(&headers);
        if !request.body.is_empty() {
            init.set_body(&body_blob(&request.body)?.into());
        }
        if let (Some(signal), false) = (&self.signal, request.after_cancel) {
            init.set_signal(Some(signal));
        }
        let js_request = Request::new_with_str_and_init(&request.url, &init)
            .map_err(|e| Error::invalid_input(format!("cannot make a request: {}", js_message(&e))))?;
        let network = |e: JsValue| {
            if is_abort(&e) {
                Error::new(ErrorKind::Aborted, "the request was aborted").with_code("aborted")
            } else {
                // fetch says as little as browsers allow ("Failed to fetch"); name the host.
                let host = request.url.split('/').nth(2).unwrap_or("");
                Error::new(ErrorKind::Network, format!("request to {host} failed: {}", js_message(&e)))
            }
        };
        let response: Response = JsFuture::from(global_fetch(&js_request)).await.map_err(network)?.unchecked_into();
        let status = response.status();
        let mut out_headers = Vec::new();
        if let Ok(Some(iter)) = js_sys::try_iter(&response.headers()) {
            for entry in iter.flatten() {
                let pair: js_sys::Array = entry.unchecked_into();
                if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                    out_headers.push((k.to_ascii_lowercase(), v));
                }
            }
        }
        let buffer = JsFuture::from(response.array_buffer().map_err(network)?).await.map_err(network)?;
        let body = Uint8Array::new(&buffer).to_vec();
        Ok(HttpResponse { status, headers: out_headers, body: Bytes::from(body) })
    }
}

/// HTTP through `XMLHttpRequest`, which (unlike `fetch`) reports upload progress byte by byte.
/// Pages and dedicated workers have it; Node and edge runtimes do not.
#[derive(Clone, Debug, Default)]
pub struct XhrTransport {
    signal: Option<AbortSignal>,
}

impl XhrTransport {
    pub fn new(signal: Option<AbortSignal>) -> Self {
        XhrTransport { signal }
    }

    /// Whether this global has `XMLHttpRequest`.
    pub fn available() -> bool {
        Reflect::has(&js_sys::global(), &"XMLHttpRequest".into()).unwrap_or(false)
    }
}

impl Transport for XhrTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.send_reporting(request, &|_| {}).await
    }

    async fn send_reporting(&self, request: HttpRequest, on_sent: &dyn Fn(u64)) -> Result<HttpResponse> {
        use futures_util::StreamExt;
        use web_sys::{ProgressEvent, XmlHttpRequest, XmlHttpRequestResponseType};
        let fail = |e: JsValue| Error::invalid_input(format!("cannot make a request: {}", js_message(&e)));
        let xhr = XmlHttpRequest::new().map_err(fail)?;
        xhr.open_with_async(request.method.as_str(), &request.url, true).map_err(fail)?;
        xhr.set_response_type(XmlHttpRequestResponseType::Arraybuffer);
        for (name, value) in &request.headers {
            xhr.set_request_header(name, value)
                .map_err(|e| Error::invalid_input(format!("header {name}: {}", js_message(&e))))?;
        }
        // Progress events arrive on JS callbacks; hand them to this future through a channel.
        let (tx, mut rx) = futures_channel::mpsc::unbounded::<u64>();
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
            let _ = tx.unbounded_send(event.loaded() as u64);
        });
        let upload = xhr.upload().map_err(fail)?;
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        let aborter = {
            let xhr = xhr.clone();
            Closure::<dyn FnMut()>::new(move || {
                let _ = xhr.abort();
            })
        };
        let signal = self.signal.as_ref().filter(|_| !request.after_cancel);
        if let Some(signal) = signal {
            let _ = signal.add_event_listener_with_callback("abort", aborter.as_ref().unchecked_ref());
        }
        let xhr_for_promise = xhr.clone();
        let finished = Promise::new(&mut |resolve, _reject| xhr_for_promise.set_onloadend(Some(&resolve)));
        let sent =
            if request.body.is_empty() { xhr.send() } else { xhr.send_with_opt_blob(Some(&body_blob(&request.body)?)) };
        let mut outcome = sent.map_err(|e| Error::new(ErrorKind::Network, js_message(&e)));
        if outcome.is_ok() {
            let mut done = std::pin::pin!(JsFuture::from(finished));
            loop {
                match futures_util::future::select(done.as_mut(), rx.next()).await {
                    futures_util::future::Either::Left(_) => break,
                    futures_util::future::Either::Right((Some(bytes), _)) => on_sent(bytes),
                    futures_util::future::Either::Right((None, _)) => {
                        let _ = done.as_mut().await;
                        break;
                    }
                }
            }
            outcome = Ok(());
        }
        upload.set_onprogress(None);
        if let Some(signal) = signal {
            let _ = signal.remove_event_listener_with_callback("abort", aborter.as_ref().unchecked_ref());
        }
        outcome?;
        let status = xhr.status().unwrap_or(0);
        if status == 0 {
            // No reply: aborted, or the network (or CORS) failed; XHR does not say which.
            return Err(if signal.is_some_and(|s| s.aborted()) {
                Error::new(ErrorKind::Aborted, "the request was aborted").with_code("aborted")
            } else {
                let host = request.url.split('/').nth(2).unwrap_or("");
                Error::new(ErrorKind::Network, format!("request to {host} failed (no reply)"))
            });
        }
        let mut headers = Vec::new();
        for line in xhr.get_all_response_headers().unwrap_or_default().split("\r\n") {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let body = xhr
            .response()
            .ok()
            .filter(|b| !b.is_null() && !b.is_undefined())
            .map(|b| Uint8Array::new(&b).to_vec())
            .unwrap_or_default();
        Ok(HttpResponse { status, headers, body: Bytes::from(body) })
    }
}

/// `XMLHttpRequest` where the global has it (byte-level upload progress), else `fetch`.
#[derive(Clone, Debug)]
pub enum WebTransport {
    Xhr(XhrTransport),
    Fetch(FetchTransport),
}

impl WebTransport {
    pub fn auto(signal: Option<AbortSignal>) -> Self {
        if XhrTransport::available() {
            WebTransport::Xhr(XhrTransport::new(signal))
        } else {
            WebTransport::Fetch(FetchTransport::new(signal))
        }
    }
}

impl Transport for WebTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        match self {
            WebTransport::Xhr(t) => t.send(request).await,
            WebTransport::Fetch(t) => t.send(request).await,
        }
    }
    async fn send_reporting(&self, request: HttpRequest, on_sent: &dyn Fn(u64)) -> Result<HttpResponse> {
        match self {
            WebTransport::Xhr(t) => t.send_reporting(request, on_sent).await,
            WebTransport::Fetch(t) => t.send_reporting(request, on_sent).await,
        }
    }
}

/// A `Blob` or `File`, read in slices. A `File`'s fingerprint is its name, size and modification
/// time: enough to find its checkpoint again after a page reload.
#[derive(Debug)]
pub struct BlobSource {
    blob: Blob,
    fingerprint: Option<String>,
}

impl BlobSource {
    pub fn new(blob: Blob, fingerprint: Option<String>) -> Self {
        let fingerprint = fingerprint.or_else(|| {
            let name = Reflect::get(&blob, &"name".into()).ok()?.as_string()?;
            let modified = Reflect::get(&blob, &"lastModified".into()).ok()?.as_f64()?;
            // As integers: the same text as `{}` of the (integral) f64s, without linking Rust's
            // float printing (~15 KB) into the wasm bundle.
            Some(format!("file:{name}:{}:{}", blob.size() as u64, modified as i64))
        });
        BlobSource { blob, fingerprint }
    }
}

impl Source for BlobSource {
    fn size(&self) -> Option<u64> {
        Some(self.blob.size() as u64)
    }
    fn fingerprint(&self) -> Option<String> {
        self.fingerprint.clone()
    }
    async fn read(&mut self, offset: u64, len: u64) -> Result<Bytes> {
        let size = self.blob.size();
        let start = (offset as f64).min(size);
        let end = (offset.saturating_add(len) as f64).min(size);
        let io = |e: JsValue| {
            Error::new(ErrorKind::Io, format!("cannot read the file at byte {offset}: {}", js_message(&e)))
        };
        let slice = self.blob.slice_with_f64_and_f64(start, end).map_err(io)?;
        let buffer = JsFuture::from(slice.array_buffer()).await.map_err(io)?;
        Ok(Bytes::from(Uint8Array::new(&buffer).to_vec()))
    }
}

/// A `ReadableStream` of bytes of unknown length (an edge worker forwarding a request body).
/// Read once, in order; no resume.
#[derive(Debug)]
pub struct StreamSource {
    reader: ReadableStreamDefaultReader,
    buffered: BytesMut,
    done: bool,
}

impl StreamSource {
    pub fn new(stream: ReadableStream) -> Result<Self> {
        let reader = stream
            .get_reader()
            .dyn_into::<ReadableStreamDefaultReader>()
            .map_err(|_| Error::invalid_input("the stream cannot be read (is it locked?)"))?;
        Ok(StreamSource { reader, buffered: BytesMut::new(), done: false })
    }
}

impl Source for StreamSource {
    fn size(&self) -> Option<u64> {
        None
    }
    fn fingerprint(&self) -> Option<String> {
        None
    }
    async fn read(&mut self, _offset: u64, len: u64) -> Result<Bytes> {
        let len = len as usize;
        while self.buffered.len() < len && !self.done {
            let io = |e: JsValue| Error::new(ErrorKind::Io, format!("cannot read the stream: {}", js_message(&e)));
            let chunk = JsFuture::from(self.reader.read()).await.map_err(io)?;
            if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
                self.done = true;
                break;
            }
            let value = Reflect::get(&chunk, &"value".into()).map_err(io)?;
            let bytes = value
                .dyn_into::<Uint8Array>()
                .map_err(|_| Error::invalid_input("the stream must yield Uint8Array chunks"))?;
            let start = self.buffered.len();
            self.buffered.resize(start + bytes.length() as usize, 0);
            bytes.copy_to(&mut self.buffered[start..]);
        }
        let take = len.min(self.buffered.len());
        Ok(self.buffered.split_to(take).freeze())
    }
}

/// Checkpoints in `localStorage` when the global has one (pages), else in memory (workers,
/// Node, edge), so that a page reload can resume where a worker cannot.
#[derive(Debug, Default)]
pub struct WebCheckpoints {
    memory: RefCell<HashMap<String, String>>,
}

fn local_storage() -> Option<web_sys::Storage> {
    let global = js_sys::global();
    let storage = Reflect::get(&global, &"localStorage".into()).ok()?;
    storage.dyn_into::<web_sys::Storage>().ok()
}

impl CheckpointStore for WebCheckpoints {
    async fn load(&self, id: &str) -> Option<String> {
        match local_storage() {
            Some(storage) => storage.get_item(id).ok().flatten(),
            None => self.memory.borrow().get(id).cloned(),
        }
    }
    async fn save(&self, id: &str, value: &str) -> Result<()> {
        match local_storage() {
            Some(storage) => storage
                .set_item(id, value)
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot save the checkpoint: {}", js_message(&e)))),
            None => {
                self.memory.borrow_mut().insert(id.to_owned(), value.to_owned());
                Ok(())
            }
        }
    }
    async fn remove(&self, id: &str) {
        match local_storage() {
            Some(storage) => {
                let _ = storage.remove_item(id);
            }
            None => {
                self.memory.borrow_mut().remove(id);
            }
        }
    }
}

/// `setTimeout`, `Date.now()`, `Math.random()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebRuntime;

impl Runtime for WebRuntime {
    async fn sleep(&self, ms: u64) {
        let promise = Promise::new(&mut |resolve, _reject| {
            let _ = set_timeout(&resolve, ms as f64);
        });
        let _ = JsFuture::from(promise).await;
    }
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}
