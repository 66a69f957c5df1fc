//! Triggers that keep the NEN 7513 access log append-only in the database
//! itself, so that not even a hand-written statement or a bug elsewhere can
//! rewrite who looked at a record.
//!
//! A trigger's syntax differs between SQLite and PostgreSQL (PostgreSQL
//! needs a plpgsql function), and the migrations are one shared set of
//! files, so the triggers are installed here after the migrations have run,
//! idempotently.

use anyhow::{Context, Result};
use sqlx::{AnyPool, Executor};

use super::Backend;

const SQLITE: &str = "\
CREATE TRIGGER IF NOT EXISTS access_log_no_update BEFORE UPDATE ON access_log \
BEGIN SELECT RAISE(ABORT, 'access_log is append-only (NEN 7513)'); END;
CREATE TRIGGER IF NOT EXISTS access_log_no_delete BEFORE DELETE ON access_log \
BEGIN SELECT RAISE(ABORT, 'access_log is append-only (NEN 7513)'); END;";

const POSTGRES_FUNCTION: &str = "\
CREATE OR REPLACE FUNCTION loket_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
BEGIN RAISE EXCEPTION '% is append-only (NEN 7513)', TG_TABLE_NAME; END $$";

const POSTGRES_TRIGGERS: &str = "\
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log \
FOR EACH ROW EXECUTE FUNCTION loket_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log \
FOR EACH STATEMENT EXECUTE FUNCTION loket_append_only();";

/// Installs the append-only triggers when they are missing.
pub async fn install(pool: &AnyPool, backend: Backend) -> Result<()> {
    match backend {
        Backend::Sqlite => {
            pool.execute(SQLITE)
                .await
                .context("installing the access log triggers")?;
        }
        Backend::Postgres => {
            // Checked first: daemons and commands opening the same database
            // at once would otherwise race on CREATE OR REPLACE.
            let present = sqlx::query(
                "SELECT 1 FROM pg_trigger WHERE tgname = 'access_log_append_only' AND NOT tgisinternal",
            )
            .fetch_optional(pool)
            .await
            .context("looking for the access log triggers")?
            .is_some();
            if !present {
                let mut tx = pool.begin().await?;
                // Two processes opening a new database at once: the second
                // waits here and then finds the triggers.
                sqlx::query("SELECT pg_advisory_xact_lock(7513)")
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query(
                    "SELECT 1 FROM pg_trigger WHERE tgname = 'access_log_append_only' AND NOT tgisinternal",
                )
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
                if done {
                    return Ok(());
                }
                tx.execute(POSTGRES_FUNCTION)
                    .await
                    .context("installing the append-only function")?;
                tx.execute(POSTGRES_TRIGGERS)
                    .await
                    .context("installing the access log triggers")?;
                tx.commit().await?;
            }
        }
    }
    Ok(())
}
