//! The emulated ufile endpoints (being written).

use axum::Router;

use crate::http::AppState;

pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
