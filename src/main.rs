use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LOKET_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = loket::cli::Cli::parse();
    match loket::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loket: {e:#}");
            ExitCode::from(2)
        }
    }
}
