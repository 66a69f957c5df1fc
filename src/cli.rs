//! The command line: `loket validate`, `loket parse`, `loket retour`, `loket serve`,
//! `loket tenant` and `loket import`.
//!
//! Output for people carries Dutch and English; `--json` output is for
//! programs. Exit codes: 0 all good, 1 a message has findings, 2 a file could
//! not be read or understood at all.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::adapter::istandaard::{self, Checked, Limits, RetourSettings, json};
use crate::adapter::ubl;
use crate::finding::{Finding, Level};
use crate::schema::Schema;

#[derive(Parser, Debug)]
#[command(
    name = "loket",
    version,
    about = "Eén loket voor iWmo, iJw en facturen / one gateway for iWmo, iJw and invoices"
)]
pub struct Cli {
    /// Largest accepted message in bytes.
    #[arg(long, global = true, default_value_t = Limits::default().max_bytes)]
    pub max_bytes: usize,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check messages (iWmo, iJw) or invoices (UBL) against the structure and every rule.
    Validate {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Re-emit a message as XML or as loket's JSON rendering; a UBL invoice as its normalized declaration lines.
    Parse {
        #[arg(long, value_enum, default_value_t = Emit::Xml)]
        emit: Emit,
        file: PathBuf,
    },
    /// Run the daemon: the HTTP API on the embedded SQLite database (or PostgreSQL).
    Serve(ServeArgs),
    /// Manage tenants (providers and municipalities).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage a tenant's API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage the web app's users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import data from files (daily registrations, a municipality's allocations, from CSV).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Declare a period: start/stop messages, one WMO323/JW323 per financier and the invoices (UBL) of invoiced financiers, into the outbox.
    /// Exit 0 done (also when there was nothing to declare), 1 done with notices to review, 2 not possible.
    Declare {
        /// The declaration period, YYYY-MM.
        #[arg(long)]
        period: String,
        /// Dagtekening of the messages (default: today).
        #[arg(long)]
        dagtekening: Option<NaiveDate>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Send the starts (305) and stops (307) due today, independent of the declaration run (the daemon runs this daily).
    /// Exit 0 done, 1 done with notices to review, 2 not possible.
    Startstop {
        /// The day to run for (default: today): starts up to it, ends registered up to it.
        #[arg(long)]
        date: Option<NaiveDate>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Pseudonymise the participants whose care ended more than `[retention] years` ago (the daemon runs this daily).
    /// Exit 0 done, 2 not possible.
    Retention {
        /// The day to count back from (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Overrides `[retention] years`.
        #[arg(long)]
        years: Option<u32>,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Report who is past the period; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print the retourbericht (or 325 declaratie-antwoord) for a heenbericht.
    Retour {
        /// Dagtekening of the retour (default: today).
        #[arg(long)]
        dagtekening: Option<NaiveDate>,
        file: PathBuf,
    },
}

/// What `declare` and `startstop` share: where, for whom, and how to report.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The tenant (AGB code); may be left out when there is only one.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Also write every generated message to this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute and check only; store and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where the daemon keeps its data; shared by `serve` and `tenant`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// TOML configuration file (see README); flags and LOKET_* variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory for the embedded database (default ./loket-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// postgres://... to use PostgreSQL instead of the embedded SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Directory of financier mappings (default ./mappings; see mappings/README.md).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Start with a demo provider (30 participants, a month of registrations,
    /// declarations and a rejected line) in the data directory (default
    /// ./loket-demo), and print the address and the demo logins.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant (AGB code or gemeentecode) and print its first API
    /// token as the last line; an id that exists is refused (exit 2).
    Add {
        id: String,
        /// A municipality's OIN (20 digits): the buyer the invoices it
        /// receives (POST /invoices) must name.
        #[arg(long)]
        oin: Option<String>,
        /// The first token's name (what it is for: "EVV-koppeling").
        #[arg(long, default_value = "")]
        token_name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Record (or change) a municipality's OIN, the buyer its received
    /// invoices must name.
    Oin {
        id: String,
        oin: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the tenants with their number of live tokens.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue another API token for a tenant; it is printed once, as the last line.
    Add {
        tenant: String,
        /// What the token is for, e.g. "EVV-koppeling" (listed, never the token).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List a tenant's tokens: id, name, created, last used, revoked.
    List {
        tenant: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by the id `token list` shows; a running daemon
    /// refuses it within 30 seconds.
    Revoke {
        tenant: String,
        token_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user to a tenant; the password is read from LOKET_PASSWORD or
    /// from the first line of standard input (never from the command line,
    /// which other users of the machine can see).
    Add {
        /// User name (letters, digits, . _ - @).
        username: String,
        /// The tenant (AGB code or gemeentecode).
        #[arg(long)]
        tenant: String,
        /// begeleider | backoffice | beheer
        #[arg(long)]
        role: String,
        /// The name shown in the app (default: the user name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Daily registrations from CSV (`;` or `,`, a header row); exit 0 all imported, 1 rows wrong, 2 unusable.
    Registrations {
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// The tenant (AGB code) to import for; may be left out when there is only one.
        #[arg(long)]
        tenant: Option<String>,
        /// Import the valid rows of a file with wrong rows (default: nothing).
        #[arg(long)]
        valid_only: bool,
        /// Who registered, for rows without a medewerker column (default: $USER).
        #[arg(long)]
        registered_by: Option<String>,
    },
    /// A municipality's allocations from its case system's CSV export, one row per product; each client at each provider becomes one 301. Exit 0 all granted, 1 rows wrong, 2 unusable.
    Allocations {
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// The municipality (gemeentecode); may be left out when there is only one tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Grant the clients whose rows are all good, even when others are wrong (default: nothing).
        #[arg(long)]
        valid_only: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Emit {
    Xml,
    Json,
}

/// Runs the command; the returned exit code follows the module doc.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let schema = Schema::builtin()?;
    // The holiday rules are data too: a wrong rule stops loket here, not
    // at the first deadline it would move.
    crate::calendar::Calendar::builtin()?;
    let limits = Limits {
        max_bytes: cli.max_bytes,
        ..Limits::default()
    };
    match cli.command {
        Command::Validate { json, files } => validate(schema, &limits, json, &files),
        Command::Parse { emit, file } => parse(schema, &limits, emit, &file),
        Command::Retour { dagtekening, file } => retour(schema, &limits, dagtekening, &file),
        Command::Serve(args) => {
            let mut store = args.store.clone();
            if args.demo && store.data_dir.is_none() && std::env::var_os("LOKET_DATA_DIR").is_none()
            {
                store.data_dir = Some(PathBuf::from("loket-demo"));
            }
            let mut config = crate::config::Config::resolve(&store, args.listen, cli.max_bytes)?;
            if args.demo {
                // A demo that cannot start leaves no folder behind: the
                // address is tried before anything is written, and the data
                // directory is removed again when this start made it and
                // preparing it failed. Once serving, nothing is removed.
                std::net::TcpListener::bind(config.listen).map_err(|e| {
                    anyhow::anyhow!(
                        "kan niet luisteren op {0}: {e} / cannot listen on {0}: {e} (--listen)",
                        config.listen
                    )
                })?;
                let fresh = !config.data_dir.exists();
                if let Err(e) = crate::web::demo::prepare(&mut config) {
                    if fresh {
                        let _ = std::fs::remove_dir_all(&config.data_dir);
                    }
                    return Err(e);
                }
            }
            runtime()?.block_on(crate::config::serve(config, args.demo))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    tenant,
                    role,
                    name,
                    store,
                },
        } => {
            let role = crate::web::auth::Role::parse(&role).with_context(|| {
                format!("rol {role:?}: kies begeleider, backoffice of beheer / role {role:?}: use begeleider, backoffice or beheer")
            })?;
            let password = match std::env::var("LOKET_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let config = crate::config::Config::resolve(&store, None, cli.max_bytes)?;
            runtime()?.block_on(async {
                let store = config.open_store().await?;
                crate::web::auth::add_user(
                    &store,
                    &tenant,
                    &username,
                    name.as_deref().unwrap_or(&username),
                    role,
                    &password,
                )
                .await
            })?;
            println!(
                "gebruiker {username} ({}) is aangemaakt / user created",
                role.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            command:
                ImportCommand::Registrations {
                    file,
                    store,
                    tenant,
                    valid_only,
                    registered_by,
                },
        } => {
            let config = crate::config::Config::resolve(&store, None, cli.max_bytes)?;
            crate::registration::csv::run_command(
                &config,
                &file,
                tenant.as_deref(),
                valid_only,
                registered_by.as_deref(),
                cli.max_bytes,
            )
        }
        Command::Import {
            command:
                ImportCommand::Allocations {
                    file,
                    store,
                    tenant,
                    valid_only,
                },
        } => {
            let config = crate::config::Config::resolve(&store, None, cli.max_bytes)?;
            crate::record::import::run_command(
                &config,
                &file,
                tenant.as_deref(),
                valid_only,
                cli.max_bytes,
            )
        }
        Command::Declare {
            period,
            dagtekening,
            run,
        } => {
            let config = crate::config::Config::resolve(&run.store, None, cli.max_bytes)?;
            let period = crate::engine::parse_period(&period)?;
            let opts = crate::engine::RunOptions {
                period,
                today: dagtekening.unwrap_or_else(|| chrono::Local::now().date_naive()),
                dry_run: run.dry_run,
                out_dir: run.out.clone(),
            };
            let report = runtime()?.block_on(async {
                let store = config.open_store().await?;
                let (tenant, mappings) = cli_tenant(&config, &store, run.tenant.as_deref()).await?;
                crate::engine::run(&store, mappings.for_tenant(&tenant.id), &tenant, &opts).await
            })?;
            print_report(&report, report.text(), report.notices.is_empty(), run.json)
        }
        Command::Startstop { date, run } => {
            let config = crate::config::Config::resolve(&run.store, None, cli.max_bytes)?;
            let today = date.unwrap_or_else(|| chrono::Local::now().date_naive());
            let report = runtime()?.block_on(async {
                let store = config.open_store().await?;
                let (tenant, mappings) = cli_tenant(&config, &store, run.tenant.as_deref()).await?;
                crate::engine::startstop::run(
                    &store,
                    mappings.for_tenant(&tenant.id),
                    &tenant,
                    today,
                    run.dry_run,
                    run.out.as_ref(),
                )
                .await
            })?;
            print_report(&report, report.text(), report.notices.is_empty(), run.json)
        }
        Command::Retention {
            date,
            years,
            tenant,
            dry_run,
            json,
            store,
        } => {
            let config = crate::config::Config::resolve(&store, None, cli.max_bytes)?;
            let mut settings = config.retention.clone();
            if let Some(y) = years {
                settings.years = y;
            }
            let today = date.unwrap_or_else(|| chrono::Local::now().date_naive());
            let report = runtime()?.block_on(async {
                let store = config.open_store().await?;
                crate::record::retention::run(&store, &settings, today, tenant.as_deref(), dry_run)
                    .await
            })?;
            print_report(&report, report.text(), true, json)
        }
        Command::Tenant {
            command:
                TenantCommand::Add {
                    id,
                    oin,
                    token_name,
                    store,
                },
        } => {
            let config = crate::config::Config::resolve(&store, None, cli.max_bytes)?;
            let token = runtime()?.block_on(async {
                let store = config.open_store().await?;
                if let Some(oin) = &oin
                    && (oin.len() != 20 || !oin.bytes().all(|b| b.is_ascii_digit()))
                {
                    anyhow::bail!(
                        "OIN {oin:?} heeft geen 20 cijfers / OIN {oin:?} does not have 20 digits"
                    );
                }
                let token = store.create_tenant(&id, &token_name).await?;
                if let Some(oin) = &oin {
                    store.set_tenant_oin(&id, oin).await?;
                }
                Ok::<_, anyhow::Error>(token)
            })?;
            println!(
                "tenant {id} is aangemaakt / created; API-token (bewaar het, het wordt niet opnieuw getoond / keep it, it is not shown again):"
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant {
            command: TenantCommand::Oin { id, oin, store },
        } => {
            let config = crate::config::Config::resolve(&store, None, cli.max_bytes)?;
            runtime()?
                .block_on(async { config.open_store().await?.set_tenant_oin(&id, &oin).await })?;
            println!("OIN van {id} vastgelegd / OIN of {id} recorded");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant {
            command: TenantCommand::List { json, store },
        } => {
            let config = crate::config::Config::resolve(&store, None, cli.max_bytes)?;
            let rows = runtime()?.block_on(async { config.open_store().await?.tenants().await })?;
            let mut out = io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<10} {:<10} {:<20} {:>6}  aangemaakt/created",
                    "tenant", "soort/kind", "OIN", "tokens"
                )?;
                for t in &rows {
                    writeln!(
                        out,
                        "{:<10} {:<10} {:<20} {:>6}  {}",
                        t.id,
                        t.kind,
                        t.oin.as_deref().unwrap_or("-"),
                        t.tokens,
                        t.created_at
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { command } => token(command, cli.max_bytes),
    }
}

/// `loket token add|list|revoke`.
fn token(command: TokenCommand, max_bytes: usize) -> Result<ExitCode> {
    let store_args = match &command {
        TokenCommand::Add { store, .. }
        | TokenCommand::List { store, .. }
        | TokenCommand::Revoke { store, .. } => store.clone(),
    };
    let config = crate::config::Config::resolve(&store_args, None, max_bytes)?;
    let rt = runtime()?;
    let store = rt.block_on(config.open_store())?;
    let mut out = io::stdout().lock();
    match command {
        TokenCommand::Add { tenant, name, .. } => {
            let token = rt.block_on(store.add_token(&tenant, &name))?;
            writeln!(
                out,
                "token voor / for {tenant} (bewaar het, het wordt niet opnieuw getoond / keep it, it is not shown again):"
            )?;
            writeln!(out, "{token}")?;
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { tenant, json, .. } => {
            let rows = rt.block_on(store.tokens(&tenant))?;
            if json {
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)?;
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(
                out,
                "{:<12}  {:<24} {:<20} {:<20} ingetrokken/revoked",
                "id", "naam/name", "aangemaakt/created", "laatst/last used"
            )?;
            for t in &rows {
                writeln!(
                    out,
                    "{:<12}  {:<24} {:<20} {:<20} {}",
                    t.id,
                    if t.name.is_empty() { "-" } else { &t.name },
                    t.created_at.get(..19).unwrap_or(&t.created_at),
                    t.last_used_at
                        .as_deref()
                        .map_or("-", |s| s.get(..19).unwrap_or(s)),
                    t.revoked_at
                        .as_deref()
                        .map_or("-", |s| s.get(..19).unwrap_or(s)),
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke {
            tenant, token_id, ..
        } => {
            if rt.block_on(store.revoke_token(&tenant, &token_id))? {
                writeln!(
                    out,
                    "token {token_id} van {tenant} is ingetrokken / of {tenant} is revoked"
                )?;
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "loket: {tenant} heeft geen geldig token {token_id} / {tenant} has no live token {token_id}"
                );
                Ok(ExitCode::from(1))
            }
        }
    }
}

/// Prints a run's report (as JSON or as text); exit 0 when it has no
/// notices, 1 when a person has something to review.
fn print_report(
    report: &impl Serialize,
    text: String,
    quiet: bool,
    json: bool,
) -> Result<ExitCode> {
    let mut stdout = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, report)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{text}")?;
    }
    Ok(if quiet {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The tenant a run on the command line is for (the only one when not
/// named) and the mappings it runs with.
async fn cli_tenant(
    config: &crate::config::Config,
    store: &crate::store::Store,
    tenant: Option<&str>,
) -> Result<(crate::store::Tenant, crate::mapping::TenantMappings)> {
    let id = crate::registration::csv::resolve_tenant(store, tenant).await?;
    let tenant = crate::store::Tenant {
        kind: crate::store::TenantKind::from_id(&id)?,
        id,
    };
    let mappings = crate::mapping::TenantMappings::load(&config.mappings_dir)
        .with_context(|| format!("mappings in {}", config.mappings_dir.display()))?;
    Ok((tenant, mappings))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[derive(Serialize)]
struct FileReport<'a> {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bericht: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorReport>,
    findings: &'a [Finding],
    /// Rules flagged as warnings (UBL: EN 16931 and Peppol warnings,
    /// loket's own business checks): reported, the file stays valid.
    #[serde(skip_serializing_if = "<[Finding]>::is_empty")]
    warnings: &'a [Finding],
}

#[derive(Serialize)]
struct ErrorReport {
    nl: String,
    en: String,
}

fn read(file: &PathBuf, limits: &Limits) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if meta.len() > limits.max_bytes as u64 {
        // Refuse before reading: the size limit also bounds memory.
        return Err(anyhow::anyhow!(
            "{}: {}",
            file.display(),
            istandaard::DecodeError::TooLarge {
                size: usize::try_from(meta.len()).unwrap_or(usize::MAX),
                limit: limits.max_bytes
            }
            .bilingual()
        ));
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn validate(
    schema: &'static Schema,
    limits: &Limits,
    as_json: bool,
    files: &[PathBuf],
) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut worst = 0u8;
    let mut reports = Vec::new();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Files are checked in parallel in bounded batches; output keeps the order
    // of the command line.
    for batch in files.chunks(256) {
        let outcomes = check_parallel(schema, limits, batch, workers);
        for (file, outcome) in batch.iter().zip(outcomes) {
            let name = file.display().to_string();
            match outcome {
                Ok(checked) => {
                    let valid = checked.is_valid();
                    if !valid {
                        worst = worst.max(1);
                    }
                    if as_json {
                        reports.push(serde_json::to_value(FileReport {
                            file: name,
                            valid,
                            bericht: Some(checked.name()),
                            error: None,
                            findings: checked.findings(),
                            warnings: checked.warnings(),
                        })?);
                    } else if valid {
                        writeln!(out, "OK {name} ({})", checked.name())?;
                    } else {
                        writeln!(
                            out,
                            "FOUT/INVALID {name} ({}): {} bevinding(en)/finding(s)",
                            checked.name(),
                            checked.findings().len()
                        )?;
                        for f in checked.findings() {
                            writeln!(out, "  {f}")?;
                        }
                    }
                    if !as_json {
                        for f in checked.warnings() {
                            writeln!(out, "  waarschuwing/warning: {f}")?;
                        }
                    }
                }
                Err(e) => {
                    worst = 2;
                    let msg = format!("{e:#}");
                    if as_json {
                        reports.push(serde_json::to_value(FileReport {
                            file: name,
                            valid: false,
                            bericht: None,
                            error: Some(ErrorReport {
                                nl: msg.clone(),
                                en: msg,
                            }),
                            findings: &[],
                            warnings: &[],
                        })?);
                    } else {
                        writeln!(out, "ONBRUIKBAAR/UNUSABLE {name}: {msg}")?;
                    }
                }
            }
        }
    }
    if as_json {
        serde_json::to_writer_pretty(&mut out, &reports)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(ExitCode::from(worst))
}

/// A checked file of either family: an iStandaarden message or a UBL
/// invoice, told apart by the root's namespace.
enum AnyChecked {
    Message(Checked),
    Invoice(Box<ubl::Checked>),
}

impl AnyChecked {
    fn is_valid(&self) -> bool {
        match self {
            AnyChecked::Message(c) => c.is_valid(),
            AnyChecked::Invoice(c) => c.is_valid(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            AnyChecked::Message(c) => c.message.name(),
            AnyChecked::Invoice(c) => c.document.kind.name(),
        }
    }

    fn findings(&self) -> &[Finding] {
        match self {
            AnyChecked::Message(c) => &c.findings,
            AnyChecked::Invoice(c) => &c.findings,
        }
    }

    /// An iStandaarden message has no warnings: every rule it fails is
    /// answered with a retourcode.
    fn warnings(&self) -> &[Finding] {
        match self {
            AnyChecked::Message(_) => &[],
            AnyChecked::Invoice(c) => &c.warnings,
        }
    }
}

/// Checks one file's bytes with the adapter its root belongs to.
fn check_any(schema: &'static Schema, bytes: &[u8], limits: &Limits) -> Result<AnyChecked> {
    if ubl::looks_like_ubl(bytes) {
        return ubl::check(bytes, limits)
            .map(|c| AnyChecked::Invoice(Box::new(c)))
            .map_err(|e| anyhow::anyhow!(e.bilingual()));
    }
    istandaard::check(schema, bytes, limits)
        .map(AnyChecked::Message)
        .map_err(|e| anyhow::anyhow!(e.bilingual()))
}

/// Checks `files` on up to `workers` threads; results come back in input order.
fn check_parallel(
    schema: &'static Schema,
    limits: &Limits,
    files: &[PathBuf],
    workers: usize,
) -> Vec<Result<AnyChecked>> {
    let check_one =
        |file: &PathBuf| read(file, limits).and_then(|bytes| check_any(schema, &bytes, limits));
    if workers <= 1 || files.len() < 2 {
        return files.iter().map(check_one).collect();
    }
    let per = files.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(per)
            .map(|chunk| scope.spawn(move || chunk.iter().map(check_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(anyhow::anyhow!("worker thread failed"))])
            })
            .collect()
    })
}

fn parse(schema: &'static Schema, limits: &Limits, emit: Emit, file: &PathBuf) -> Result<ExitCode> {
    let bytes = match read(file, limits) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    if ubl::looks_like_ubl(&bytes) {
        return parse_ubl(limits, emit, file, &bytes);
    }
    let checked = match istandaard::check(schema, &bytes, limits) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {}", file.display(), e.bilingual());
            return Ok(ExitCode::from(2));
        }
    };
    let structural: Vec<&Finding> = checked
        .findings
        .iter()
        .filter(|f| f.level == Level::Structure)
        .collect();
    if !checked.complete || !structural.is_empty() {
        eprintln!(
            "{}: de structuur klopt niet, het bericht kan niet getrouw worden weergegeven / the structure is invalid, the message cannot be re-emitted faithfully",
            file.display()
        );
        for f in structural {
            eprintln!("  {f}");
        }
        return Ok(ExitCode::from(1));
    }
    for f in &checked.findings {
        eprintln!("waarschuwing/warning: {f}");
    }
    let text = match emit {
        Emit::Xml => istandaard::encode::encode(&checked.message),
        Emit::Json => {
            let mut value = json::to_json(&checked.message);
            // A declaration also as the normalized lines an invoice gives.
            let lines = crate::adapter::lines::from_declaratie(&checked.message);
            if !lines.is_empty() {
                value["declaration_lines"] = serde_json::to_value(lines)?;
            }
            serde_json::to_string_pretty(&value)? + "\n"
        }
    };
    io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `parse` for a UBL Invoice or CreditNote: `--emit json` prints its
/// normalized declaration lines (the same shape a WMO323/JW323 gives) with
/// the document's header; `--emit xml` re-emits it as loket writes UBL.
/// Exit 1 when the structure or a business rule fails (findings on stderr).
fn parse_ubl(
    limits: &Limits,
    emit: Emit,
    file: &std::path::Path,
    bytes: &[u8],
) -> Result<ExitCode> {
    let checked = match ubl::check(bytes, limits) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {}", file.display(), e.bilingual());
            return Ok(ExitCode::from(2));
        }
    };
    if !checked.is_valid() {
        eprintln!(
            "{}: de factuur voldoet niet / the invoice is invalid",
            file.display()
        );
        for f in &checked.findings {
            eprintln!("  {f}");
        }
        return Ok(ExitCode::from(1));
    }
    for f in &checked.warnings {
        eprintln!("waarschuwing/warning: {f}");
    }
    let doc = &checked.document;
    let text = match emit {
        Emit::Xml => ubl::encode::encode(doc),
        Emit::Json => {
            let value = serde_json::json!({
                "standaard": "ubl",
                "document": doc.kind.name(),
                "customization_id": doc.customization_id,
                "number": doc.id,
                "issue_date": doc.issue_date,
                "currency": doc.currency,
                "seller": doc.seller.registration_name,
                "buyer": doc.buyer.registration_name,
                "order_reference": doc.order_reference,
                "payable": doc.totals.payable,
                "lines": ubl::decode::lines(doc),
            });
            serde_json::to_string_pretty(&value)? + "\n"
        }
    };
    io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn retour(
    schema: &'static Schema,
    limits: &Limits,
    dagtekening: Option<NaiveDate>,
    file: &PathBuf,
) -> Result<ExitCode> {
    let bytes = match read(file, limits) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let checked: Checked = match istandaard::check(schema, &bytes, limits) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "{}: geen retourbericht mogelijk / no retourbericht possible: {}",
                file.display(),
                e.bilingual()
            );
            return Ok(ExitCode::from(2));
        }
    };
    for f in &checked.findings {
        eprintln!("{f}");
    }
    let settings = RetourSettings {
        today: dagtekening,
        ..RetourSettings::default()
    };
    match istandaard::retour_xml(&checked, &settings) {
        Ok(xml) => {
            io::stdout().write_all(xml.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "{}: geen retourbericht mogelijk / no retourbericht possible: {} / {}",
                file.display(),
                e,
                e.nl()
            );
            Ok(ExitCode::from(2))
        }
    }
}
