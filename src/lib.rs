//! loket: one connection for care and day-activity providers to every
//! financier. Messages flow one way through the stages:
//!
//! transport -> adapter (decode, validate) -> record -> engine -> outbox ->
//! adapter (encode) -> transport.
//!
//! Checking a message is one call; the schema is compiled into the binary:
//!
//! ```
//! use loket::adapter::istandaard::{self, Limits};
//! use loket::schema::Schema;
//!
//! let schema = Schema::builtin().expect("built-in schema");
//! let err = istandaard::check(schema, b"<not-a-message/>", &Limits::default()).unwrap_err();
//! assert!(err.to_string().contains("not an iWmo 3.2 or iJw 3.2 message"));
//! ```
//!
//! Stages present so far: the iStandaarden adapter (`adapter::istandaard`),
//! the participant record (`record`, on `store`), the HTTP and drop-folder
//! transports (`server`, `transport`), the engine's inputs: daily
//! registrations (`registration`) and financier mappings (`mapping`), and
//! the one way out for every generated message (`outbox`).

/// mimalloc instead of glibc's allocator, for every binary that links
/// loket (the daemon, the CLI, tests and benchmarks alike, so benchmarks
/// measure what runs). A profile of a declaration run for 100,000
/// participants spent about 30% of its time in glibc's malloc, free and
/// malloc_consolidate: the engine and sqlx's SQLite worker thread allocate
/// many small strings and rows from several threads at once.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod adapter;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod datafile;
pub mod engine;
pub mod finding;
pub mod instrument;
pub mod mapping;
pub mod message;
pub mod outbox;
pub mod record;
pub mod registration;
pub mod schema;
pub mod server;
pub mod store;
pub mod transport;
pub mod web;
