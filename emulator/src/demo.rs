//! The demo host: token backend, admin endpoint, demo page (being written).

use std::path::Path;

use axum::Router;

use crate::http::AppState;

pub fn router(state: AppState, _www: &Path, _pkg: &Path) -> Router {
    Router::new().with_state(state)
}
