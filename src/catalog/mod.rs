//! The catalog every provider keeps of what it holds, so that the library
//! outlives the computer: each library writes, under `catalog/<library id>/`
//! on every provider, numbered segments that are never rewritten (see
//! `format` for what is in them), and any library reads the union of all
//! libraries' segments back (`scan`). No locks: a library writes only its
//! own folder, and a segment appears whole or not at all.

pub mod format;
pub mod io;
pub mod paths;
pub mod scan;
pub mod writer;

pub use scan::{ScanError, ScanReport, has_catalog, scan};
pub use writer::{CatalogWriter, Flush, Flushed};
