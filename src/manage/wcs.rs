//! wcs management (being written).
