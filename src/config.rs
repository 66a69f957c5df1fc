//! Configuration of the daemon: a TOML file (`--config`), overridden by
//! `LOKET_*` environment variables, overridden by command-line flags.
//! With none of them, loket runs on the embedded SQLite database in
//! `./loket-data` and listens on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::cli::StoreArgs;
use crate::mapping::TenantMappings;
use crate::record::Ingest;
use crate::server::{self, AppState};
use crate::store::Store;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// Largest accepted message body in bytes, for every way a message
    /// enters; by default what the exchange accepts
    /// ([`crate::adapter::istandaard::MAX_MESSAGE_BYTES`]).
    pub max_message_bytes: usize,
    /// `[[dropfolder]]` sections: an inbox directory per tenant (see README).
    pub dropfolder: Vec<crate::transport::dropfolder::DropfolderConfig>,
    /// Financier mappings: `*.toml` files shared by every tenant, and a
    /// subdirectory per tenant id for a tenant with its own contracts.
    pub mappings_dir: PathBuf,
    /// Outcome instruments of the provider's own (`*.toml`, beside the
    /// built-in ones from `schemas/instruments`; also `LOKET_INSTRUMENTS_DIR`).
    /// Absent: the built-in instruments only.
    pub instruments_dir: PathBuf,
    /// `[evaluations]`: how often participants are evaluated, by default and
    /// per group.
    pub evaluations: crate::record::outcomes::EvaluationSettings,
    /// `[outbox]`: retry timing, timeouts and leases of outbound delivery.
    pub outbox: crate::outbox::Settings,
    /// `[startstop]`: the daemon's daily start/stop run.
    pub startstop: crate::engine::daily::Settings,
    /// `[retention]`: years after the last day of care, then pseudonymised
    /// (in the daily run).
    pub retention: crate::record::retention::Settings,
    /// `[limits]`: body budget, timeouts and the connection limit of the
    /// HTTP server.
    pub limits: crate::server::limits::Settings,
    /// `[database]`: how long to wait for the database before answering 503.
    pub database: crate::store::Settings,
    /// `[[vsp]]` sections: a tenant's connection to VECOZO's VSP-Koppeling
    /// (environment, systeemcertificaat, trusted roots, poll timing).
    pub vsp: Vec<crate::transport::vsp::VspConfig>,
    /// `[[stuf]]` sections: a municipality's connection to the GGk through
    /// its Digikoppeling adapter (endpoint, listener, certificate, edition).
    pub stuf: Vec<crate::transport::stuf::StufConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("loket-data"),
            database_url: None,
            max_message_bytes: crate::adapter::istandaard::Limits::default().max_bytes,
            dropfolder: Vec::new(),
            mappings_dir: PathBuf::from("mappings"),
            instruments_dir: PathBuf::from("instruments"),
            evaluations: crate::record::outcomes::EvaluationSettings::default(),
            outbox: crate::outbox::Settings::default(),
            startstop: crate::engine::daily::Settings::default(),
            retention: crate::record::retention::Settings::default(),
            limits: crate::server::limits::Settings::default(),
            database: crate::store::Settings::default(),
            vsp: Vec::new(),
            stuf: Vec::new(),
        }
    }
}

impl Config {
    /// File, then environment, then flags.
    pub fn resolve(
        args: &StoreArgs,
        listen: Option<SocketAddr>,
        max_bytes: usize,
    ) -> Result<Config> {
        let mut c = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read configuration {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid configuration {}", path.display()))?
            }
            None => Config::default(),
        };
        if let Ok(v) = std::env::var("LOKET_LISTEN") {
            c.listen = v.parse().context("LOKET_LISTEN is not an address")?;
        }
        if let Ok(v) = std::env::var("LOKET_DATA_DIR") {
            c.data_dir = PathBuf::from(v);
        }
        if let Ok(v) = std::env::var("LOKET_DATABASE_URL") {
            c.database_url = Some(v);
        }
        if let Ok(v) = std::env::var("LOKET_MAPPINGS_DIR") {
            c.mappings_dir = PathBuf::from(v);
        }
        if let Ok(v) = std::env::var("LOKET_INSTRUMENTS_DIR") {
            c.instruments_dir = PathBuf::from(v);
        }
        if let Some(l) = listen {
            c.listen = l;
        }
        if let Some(d) = &args.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(u) = &args.database_url {
            c.database_url = Some(u.clone());
        }
        if let Some(m) = &args.mappings {
            c.mappings_dir = m.clone();
        }
        c.mappings_dir = default_mappings(c.mappings_dir);
        if max_bytes != crate::adapter::istandaard::Limits::default().max_bytes {
            c.max_message_bytes = max_bytes;
        }
        Ok(c)
    }

    pub async fn open_store(&self) -> Result<Store> {
        Store::open_with(self.database_url.as_deref(), &self.data_dir, &self.database).await
    }

    /// The application state for this configuration.
    pub async fn state(&self) -> Result<AppState> {
        // The exchange's codes are data; a broken catalogue stops the start
        // rather than leaving refused messages unexplained.
        crate::schema::exchange::ExchangeCodes::check_builtin()?;
        // Outcome instruments are data too: a file with a mistake stops the
        // start with its file and line, before anyone scores on it
        // (and before a data directory is made).
        let instruments = Arc::new(
            crate::instrument::Instruments::load(Some(&self.instruments_dir))
                .with_context(|| format!("instruments in {}", self.instruments_dir.display()))?,
        );
        let store = self.open_store().await?;
        let mappings = Arc::new(
            TenantMappings::load(&self.mappings_dir)
                .with_context(|| format!("mappings in {}", self.mappings_dir.display()))?,
        );
        let mut ingest = Ingest::with_mappings(store, mappings.clone())?;
        ingest.limits.max_bytes = self.max_message_bytes;
        let vsp = crate::transport::vsp::Clients::load(&self.vsp)?;
        let stuf = crate::transport::stuf::Connections::load(&self.stuf)?;
        if let Some(note) = self.limits.budget_note(self.max_message_bytes) {
            tracing::warn!("{note}");
        }
        Ok(AppState {
            ingest,
            mappings,
            instruments,
            evaluations: Arc::new(self.evaluations.clone()),
            metrics: Arc::new(server::metrics::Metrics::default()),
            outbox: crate::outbox::Outbox::new(self.outbox.clone())
                .with_vsp(vsp)
                .with_stuf(stuf),
            budget: server::limits::Budget::new(&self.limits),
        })
    }
}

/// `loket serve`: the API and web app, the drop-folder watchers and the
/// outbox worker, until Ctrl-C / SIGTERM; then the worker finishes the
/// deliveries under way. With `demo`, the demo tenant is seeded first and
/// its logins are printed.
pub async fn serve(config: Config, demo: bool) -> Result<()> {
    let state = config.state().await?;
    if demo {
        let inbox = crate::web::demo::provider_inbox(&config);
        let d =
            crate::web::demo::seed(&state, crate::registration::today(), inbox.as_deref()).await?;
        let host = if config.listen.ip().is_loopback() {
            "localhost".to_string()
        } else {
            config.listen.ip().to_string()
        };
        println!("loket demo: http://{host}:{}/", config.listen.port());
        println!(
            "  organisatie {}; gebruikers {} met wachtwoord {}",
            d.tenant,
            crate::web::demo::DEMO_USERS
                .iter()
                .map(|(u, _, r)| format!("{u} ({})", r.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            crate::web::demo::DEMO_PASSWORD
        );
        println!(
            "  gemeente {}; gebruikers {} met wachtwoord {}",
            crate::web::demo::DEMO_GEMEENTE,
            crate::web::demo::DEMO_GEMEENTE_USERS
                .iter()
                .map(|(u, _, r)| format!("{u} ({})", r.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            crate::web::demo::DEMO_PASSWORD
        );
        if let Some(t) = &d.api_token {
            println!("  API-token: {t}");
        }
        println!("  gegevens in {}", config.data_dir.display());
    }
    let watchers = crate::transport::dropfolder::start(&state.ingest, &config.dropfolder).await?;
    let worker = state
        .outbox
        .start(state.ingest.clone(), state.metrics.clone())?;
    let vsp = crate::transport::vsp::service::start(
        &state.outbox.vsp,
        &state.ingest,
        &state.outbox,
        &state.metrics,
    );
    let stuf =
        crate::transport::stuf::server::start(&state.outbox.stuf, &state.ingest, &state.outbox)
            .await?;
    let daily = crate::engine::daily::Daily::start(
        state.clone(),
        config.startstop.clone(),
        config.retention.clone(),
    );
    let served = server::serve(state, config.listen, &config.limits).await;
    daily.stop().await;
    watchers.stop().await;
    vsp.stop().await;
    stuf.stop().await;
    worker.stop().await;
    served
}

/// The mappings directory when nobody named one: `./mappings` where it
/// exists, otherwise the checkout's own `mappings/` that this binary was
/// built from, so `cargo run --manifest-path .../Cargo.toml -- serve --demo`
/// works from any folder. A directory named in the configuration, the
/// environment or on the command line is used as given (a missing one is
/// an error when it is read).
fn default_mappings(dir: PathBuf) -> PathBuf {
    if dir != Path::new("mappings") || dir.is_dir() {
        return dir;
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    if built.is_dir() { built } else { dir }
}
