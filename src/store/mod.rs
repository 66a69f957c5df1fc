//! Durable storage behind one interface, with SQLite as the embedded default
//! and PostgreSQL to scale.
//!
//! Both backends run the same migrations (`src/store/migrations`) and the same
//! SQL: portable types, `$n` placeholders (which SQLite accepts too) and ids
//! made by loket; statements whose parameter count grows with the input take
//! their placeholders from [`Params`]. SQLite runs in WAL mode with `synchronous=FULL`, so a commit
//! has reached the disk before loket acknowledges a message.

pub mod body;
pub mod guards;
pub mod plans;
pub mod tenants;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Transaction};

/// `[database]` in the configuration file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a request waits for a database connection (or SQLite's
    /// write lock) before it is answered 503 with `Retry-After`.
    pub acquire_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            acquire_timeout_secs: 5,
        }
    }
}

/// The database cannot be used now (down, unreachable, or busy beyond the
/// wait): the request may succeed later, so clients are told 503 with
/// `Retry-After` instead of 500.
#[derive(Debug, thiserror::Error)]
#[error("de database is niet beschikbaar / the database is unavailable: {0}")]
pub struct Unavailable(pub String);

/// Whether `e`, or anything it was caused by, says the database is
/// unavailable rather than that the request or loket is wrong.
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<Unavailable>()
            || c.downcast_ref::<sqlx::Error>()
                .is_some_and(sqlx_unavailable)
    })
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY and SQLITE_LOCKED with their extended codes.
                let code: i64 = code.parse().unwrap_or(0);
                matches!(code & 0xff, 5 | 6)
            } else if d
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // Connection exceptions, the server shutting down or not yet
                // accepting, too many connections.
                code.starts_with("08") || code.starts_with("57P") || code == "53300"
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend behind a connection.
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Bind-parameter placeholders in the backend's own notation, handed out in
/// bind order: `$1, $2, ...` on PostgreSQL, anonymous `?` on SQLite.
///
/// SQLite treats `$n` as a named parameter: the parser and sqlx's binding
/// each look every name up in a list of the names seen so far, so a
/// statement with n of them costs O(n²). In the multi-row statements of the
/// ingest writer (a thousand parameters and more) that showed up as a large
/// share of the writer's CPU time in a profile; `?` is looked up in constant
/// time. A statement built with `Params` must take every placeholder from it,
/// in the order the values are bound (sqlx numbers `?` by position).
pub struct Params {
    backend: Backend,
    next: usize,
}

impl Params {
    pub fn new(backend: Backend) -> Params {
        Params { backend, next: 1 }
    }

    /// The next placeholder.
    pub fn one(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// `n` placeholders separated by commas, for an `IN (...)` list.
    pub fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.one()).collect::<Vec<_>>().join(", ")
    }

    /// `(.., ..), (.., ..)`: the VALUES of a multi-row insert.
    pub fn rows(&mut self, rows: usize, cols: usize) -> String {
        (0..rows)
            .map(|_| format!("({})", self.list(cols)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The store: a connection pool plus what it takes to write safely.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    pub backend: Backend,
    /// SQLite has one writer; serialising write transactions in the process
    /// avoids busy-snapshot failures under concurrent requests.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Tokens already seen, by hash, with when they were looked up: every
    /// request is authenticated, and this saves a query per request. An
    /// entry is trusted for [`tenants::TOKEN_CACHE_SECS`], so a token
    /// revoked by another process stops working within that time.
    token_cache: tenants::TokenCache,
}

/// A tenant: one provider (AGB code) or one municipality (gemeentecode).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub id: String,
    pub kind: TenantKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantKind {
    Aanbieder,
    Gemeente,
}

impl TenantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantKind::Aanbieder => "aanbieder",
            TenantKind::Gemeente => "gemeente",
        }
    }

    /// An AGB code has 8 digits, a gemeentecode 4.
    pub fn from_id(id: &str) -> Result<TenantKind> {
        let digits = id.bytes().all(|b| b.is_ascii_digit());
        match id.len() {
            8 if digits => Ok(TenantKind::Aanbieder),
            4 if digits => Ok(TenantKind::Gemeente),
            _ => bail!(
                "tenant id {id:?} is geen AGB-code (8 cijfers) of gemeentecode (4 cijfers) / is neither an AGB code (8 digits) nor a gemeentecode (4 digits)"
            ),
        }
    }
}

pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// SHA-256 in hex, used for tokens and for keys that must not hold a BSN.
pub fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

impl Store {
    /// Opens the database: `database_url` when given (postgres://... or
    /// sqlite://...), otherwise `loket.db` in `data_dir`, created if needed.
    /// Runs the migrations.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Store> {
        Store::open_with(database_url, data_dir, &Settings::default()).await
    }

    /// [`Store::open`] with the `[database]` settings.
    pub async fn open_with(
        database_url: Option<&str>,
        data_dir: &Path,
        settings: &Settings,
    ) -> Result<Store> {
        install_default_drivers();
        let wait = Duration::from_secs(settings.acquire_timeout_secs.max(1));
        let busy_ms = wait.as_millis();
        let url = match database_url {
            Some(u) => u.to_string(),
            None => {
                std::fs::create_dir_all(data_dir).with_context(|| {
                    format!("cannot create data directory {}", data_dir.display())
                })?;
                format!("sqlite://{}?mode=rwc", data_dir.join("loket.db").display())
            }
        };
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else if url.starts_with("sqlite") {
            Backend::Sqlite
        } else {
            bail!("unsupported database URL (use postgres:// or sqlite://)");
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            // How long a request waits for a connection before it is told
            // 503: a database that is down must not make every client wait
            // for its own timeout.
            .acquire_timeout(wait)
            // A local SQLite file cannot drop a connection: testing it on
            // every acquire would cost the ingest writer a round trip to the
            // SQLite worker thread per batch.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // Another process (the CLI) may hold the write lock;
                        // wait for it as long as for a connection, then 503.
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "PRAGMA busy_timeout = {busy_ms}"
                        )))
                        .await?;
                        conn.execute("PRAGMA temp_store = MEMORY").await?;
                        // SQLite's default page cache is 2 MB per connection.
                        // A provider's record outgrows it quickly (millions
                        // of registrations after a few years), and then
                        // index inserts re-read their pages from the OS.
                        // 64 MiB per connection, at most four connections,
                        // used only as the database grows. (Its effect on the
                        // 100k declaration benchmark was within that run's
                        // noise on a loaded machine.)
                        conn.execute("PRAGMA cache_size = -65536").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .context("cannot connect to the database")?;
        sqlx::migrate!("src/store/migrations")
            .run(&pool)
            .await
            .context("database migrations failed")?;
        guards::install(&pool, backend).await?;
        Ok(Store {
            pool,
            backend,
            write_lock: Default::default(),
            token_cache: Default::default(),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a write transaction. Nothing written through it is visible (or
    /// durable) until [`WriteTx::commit`]; dropping it rolls back.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        // IMMEDIATE takes SQLite's write lock at BEGIN, waiting for it
        // (busy_timeout) if another connection holds it. A deferred
        // transaction reads first and upgrades at its first write; when
        // someone else committed in between, that upgrade fails at once with
        // "database is locked" whatever the busy timeout (a snapshot that
        // is no longer the newest cannot become a writer).
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .context("cannot begin a transaction")?;
        Ok(WriteTx { tx, _guard: guard })
    }

    /// Cheap probe of the database.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers within `within`: a connection from the
    /// pool (a new one if need be) and one round trip.
    pub async fn ping_within(&self, within: Duration) -> Result<()> {
        match tokio::time::timeout(within, self.ping()).await {
            Ok(r) => r,
            Err(_) => {
                Err(Unavailable(format!("no answer within {} ms", within.as_millis())).into())
            }
        }
    }
}

/// A write transaction (holding the SQLite writer slot while open).
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Makes the tenant's writers that take this lock (declaration runs,
    /// registration batches) follow each other until this transaction ends:
    /// a no-op update takes the tenant's row lock on PostgreSQL; on SQLite
    /// the write transaction already excludes every other writer.
    pub async fn lock_tenant(&mut self, tenant: &str) -> Result<()> {
        sqlx::query("UPDATE tenants SET name = name WHERE id = $1")
            .bind(tenant)
            .execute(&mut *self.tx)
            .await
            .context("cannot lock the tenant")?;
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await.context("commit failed")
    }

    /// Rolls back now (dropping would too, but only once the connection is
    /// next used): the writer begins its next transaction right after.
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await.context("rollback failed")
    }
}

/// A random secret (API token, session cookie, CSRF token): 32 bytes
/// from the OS, hex encoded.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Writes an audit trail entry (who did what to which subject) in the
/// caller's transaction, so the entry and the change it records commit
/// together or not at all.
/// One entry of the audit trail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    pub created_at: String,
    pub actor: String,
    pub action: String,
    /// JSON; never a BSN or a name.
    pub detail: String,
}

impl AuditEntry {
    /// The reason the person gave, when the entry has one.
    pub fn reason(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.detail)
            .ok()
            .and_then(|d| d["reason"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// The audit trail of one subject of `tenant`, oldest first.
pub async fn audit_of(
    pool: &AnyPool,
    tenant: &str,
    subject_kind: &str,
    subject_id: &str,
) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as(
        "SELECT created_at, actor, action, detail FROM audit_log WHERE tenant_id = $1 AND subject_kind = $2 \
         AND subject_id = $3 ORDER BY created_at, id",
    )
    .bind(tenant)
    .bind(subject_kind)
    .bind(subject_id)
    .fetch_all(pool)
    .await?)
}

pub async fn audit(
    w: &mut WriteTx,
    tenant: &str,
    actor: &str,
    action: &str,
    subject: Option<(&str, &str)>,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor, action, subject_kind, subject_id, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(tenant)
    .bind(actor)
    .bind(action)
    .bind(subject.map(|s| s.0))
    .bind(subject.map(|s| s.1))
    .bind(detail.to_string())
    .bind(now())
    .execute(&mut *w.tx)
    .await
    .context("writing the audit trail")?;
    Ok(())
}
