//! wantu management (being written).
