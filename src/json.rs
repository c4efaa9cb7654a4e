//! JSON text in and out, through the engine that is already there.
//!
//! Natively that is `serde_json`. In wasm it is the JavaScript engine's own `JSON` object plus
//! `serde-wasm-bindgen`: compiling `serde_json` into the bundle would cost about 20 KB gzipped.
//! The same `#[derive(Serialize, Deserialize)]` types serve both; this module is the only place
//! that knows which engine runs.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Serialize `value` as compact JSON text.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    imp::to_string(value)
}

/// Parse JSON text into `T`; `what` names the document in the error message.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    imp::from_str(text)
        .map_err(|detail| Error::invalid_input(format!("{what} is not valid JSON of the expected shape: {detail}")))
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
        serde_json::to_string(value).map_err(|e| Error::invalid_input(format!("cannot write JSON: {e}")))
    }

    pub(super) fn from_str<T: DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;
    use wasm_bindgen::JsValue;

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        let js = value.serialize(&serializer).map_err(|e| Error::invalid_input(format!("cannot write JSON: {e}")))?;
        js_sys::JSON::stringify(&js)
            .map(String::from)
            .map_err(|_| Error::invalid_input("cannot write JSON: JSON.stringify failed"))
    }

    pub(super) fn from_str<T: DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
        let js: JsValue = js_sys::JSON::parse(text).map_err(|e| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| "JSON.parse failed".to_owned())
        })?;
        serde_wasm_bindgen::from_value(js).map_err(|e| e.to_string())
    }

    use wasm_bindgen::JsCast as _;
}
