//! loket: one connection for care and day-activity providers to every
//! financier. Messages flow one way through the stages:
//!
//! transport -> adapter (decode, validate) -> record -> engine -> outbox ->
//! adapter (encode) -> transport.
//!
//! This crate currently holds the adapter stage for the iStandaarden (iWmo and
//! iJw 3.2) and the schema data it interprets.

pub mod adapter;
pub mod cli;
pub mod config;
pub mod finding;
pub mod mapping;
pub mod message;
pub mod record;
pub mod registration;
pub mod schema;
pub mod server;
pub mod store;
pub mod transport;
