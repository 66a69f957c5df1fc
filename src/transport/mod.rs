//! Transports: the ways messages reach [`crate::record::Ingest::receive`]
//! and their answers go back. HTTP lives in [`crate::server`]; this module
//! holds the file-based ones.

pub mod dropfolder;
