//! ufile management (being written).
