//! The emulated wcs endpoints (being written).

use axum::Router;

use crate::http::AppState;

pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
