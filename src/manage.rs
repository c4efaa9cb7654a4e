//! Management APIs for backends and edge workers: list, inspect, copy, move, expire and delete
//! objects, run async jobs, manage buckets.
//!
//! Same layering as uploads: each service module builds requests and reads replies (sans-IO),
//! and a small async client per service sends them through any [`crate::engine::Transport`]
//! (`reqwest` natively, `fetch` in wasm). Management needs the secret key (it signs every
//! request), so these clients belong on servers and in edge workers, never in a page.
//!
//! Listings are paged on demand: `list(...)` returns a `Stream` that fetches the next page only
//! when the previous one is used up.

mod paging;
pub mod ufile;
pub mod wantu;
pub mod wcs;
