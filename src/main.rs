use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // LOKET_LOG is loket's own; RUST_LOG is honoured too, because that is
    // what anyone who runs Rust services sets first.
    let filter = EnvFilter::try_from_env("LOKET_LOG")
        .or_else(|_| EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal: a log file or a
        // journal gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
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
