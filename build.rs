//! `sqlx::migrate!` embeds `src/store/migrations` when the crate compiles;
//! cargo does not know that, so a new migration file would not be built in
//! until some Rust file changed. This tells it.
fn main() {
    println!("cargo:rerun-if-changed=src/store/migrations");
}
