//! Tenants and their API tokens: the only writer of `tenants` and
//! `api_tokens`. A tenant is made once (`loket tenant add` refuses an id
//! that exists, so a typo cannot quietly hand out a second key); tokens
//! are added, listed and revoked by name (`loket token add|list|revoke`).
//! Only a token's SHA-256 is stored; the token itself is shown once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sqlx::Row;

use super::{Store, Tenant, TenantKind, new_token, now, sha256_hex};

/// How long an authenticated token is trusted without asking the database:
/// the time a revocation by another process (the command line) may take to
/// be seen by a running daemon.
pub const TOKEN_CACHE_SECS: u64 = 30;

/// Tokens by hash, with when they were last looked up.
pub type TokenCache = Arc<RwLock<HashMap<String, (Tenant, Instant)>>>;

/// Length of a token's public id (a prefix of its hash).
const TOKEN_ID_LEN: usize = 12;

/// A tenant as `loket tenant list` shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub oin: Option<String>,
    pub created_at: String,
    /// Tokens that are not revoked.
    pub tokens: i64,
}

/// An API token as `loket token list` shows it: never the token itself.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl Store {
    /// Creates a tenant and issues its first API token (returned; only its
    /// hash is stored). An id that exists is refused.
    pub async fn create_tenant(&self, id: &str, token_name: &str) -> Result<String> {
        let kind = TenantKind::from_id(id)?;
        let mut w = self.begin_write().await?;
        if !insert_tenant(&mut w.tx, id, kind).await? {
            bail!(
                "tenant {id} bestaat al; een extra token maakt u met `loket token add {id} --name ...` / tenant {id} exists already; add a token with `loket token add {id} --name ...`"
            );
        }
        let token = insert_token(&mut w.tx, id, token_name).await?;
        w.commit().await?;
        Ok(token)
    }

    /// Creates a tenant when it is not there and issues a new API token:
    /// for the demo and the tests, which set tenants up as they go.
    pub async fn add_tenant(&self, id: &str) -> Result<String> {
        let kind = TenantKind::from_id(id)?;
        let mut w = self.begin_write().await?;
        insert_tenant(&mut w.tx, id, kind).await?;
        let token = insert_token(&mut w.tx, id, "").await?;
        w.commit().await?;
        Ok(token)
    }

    /// Issues another token for an existing tenant.
    pub async fn add_token(&self, tenant: &str, name: &str) -> Result<String> {
        let mut w = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_optional(&mut *w.tx)
            .await?
            .is_some();
        if !exists {
            bail!("tenant {tenant} bestaat niet / tenant {tenant} does not exist");
        }
        let token = insert_token(&mut w.tx, tenant, name).await?;
        w.commit().await?;
        Ok(token)
    }

    /// Every tenant, with its number of live tokens.
    pub async fn tenants(&self) -> Result<Vec<TenantRow>> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT t.id, t.kind, t.name, t.oin, t.created_at, \
             (SELECT COUNT(*) FROM api_tokens k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL) AS tokens \
             FROM tenants t ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A tenant's tokens, newest first, revoked ones included.
    pub async fn tokens(&self, tenant: &str) -> Result<Vec<TokenRow>> {
        Ok(sqlx::query_as::<_, TokenRow>(
            "SELECT substr(token_hash, 1, 12) AS id, name, created_at, last_used_at, revoked_at \
             FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, token_hash",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes the tenant's token whose id (hash prefix, as listed) is
    /// `token_id`. False when there is no such live token.
    pub async fn revoke_token(&self, tenant: &str, token_id: &str) -> Result<bool> {
        if token_id.len() != TOKEN_ID_LEN || !token_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "een token-id heeft {TOKEN_ID_LEN} hexadecimale tekens (loket token list) / a token id has {TOKEN_ID_LEN} hex characters (loket token list)"
            );
        }
        let mut w = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND token_hash LIKE $3 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(tenant)
        .bind(format!("{}%", token_id.to_ascii_lowercase()))
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        self.token_cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|hash, _| !hash.starts_with(&token_id.to_ascii_lowercase()));
        Ok(n > 0)
    }

    /// Records a municipality's OIN, by which the invoices it receives name
    /// it as their buyer.
    pub async fn set_tenant_oin(&self, id: &str, oin: &str) -> Result<()> {
        if oin.len() != 20 || !oin.bytes().all(|b| b.is_ascii_digit()) {
            bail!("OIN {oin:?} heeft geen 20 cijfers / OIN {oin:?} does not have 20 digits");
        }
        let mut w = self.begin_write().await?;
        let n = sqlx::query("UPDATE tenants SET oin = $1 WHERE id = $2")
            .bind(oin)
            .bind(id)
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        if n == 0 {
            bail!("tenant {id} bestaat niet / tenant {id} does not exist");
        }
        w.commit().await
    }

    /// A municipality's government organisation number (OIN), if set.
    pub async fn tenant_oin(&self, id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT oin FROM tenants WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(o,)| o))
    }

    /// The tenant a bearer token belongs to, when the token is live. A
    /// lookup that goes to the database also records the token's use.
    pub async fn tenant_for_token(&self, token: &str) -> Result<Option<Tenant>> {
        let hash = sha256_hex(&[token]);
        if let Some((t, at)) = self
            .token_cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&hash)
            && at.elapsed() < Duration::from_secs(TOKEN_CACHE_SECS)
        {
            return Ok(Some(t.clone()));
        }
        let row = sqlx::query(
            "SELECT t.id FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.token_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            self.token_cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&hash);
            return Ok(None);
        };
        let id: String = r.try_get("id")?;
        let kind = TenantKind::from_id(&id)?;
        let tenant = Tenant { id, kind };
        // Last use, to the cache period: a failure here must not refuse a
        // valid token.
        if let Err(e) = self.touch_token(&hash).await {
            tracing::warn!(error = %e, "cannot record a token's last use");
        }
        let mut cache = self
            .token_cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(TOKEN_CACHE_SECS));
        }
        if cache.len() < 10_000 {
            cache.insert(hash, (tenant.clone(), Instant::now()));
        }
        Ok(Some(tenant))
    }

    async fn touch_token(&self, hash: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
            .bind(now())
            .bind(hash)
            .execute(&mut *w.tx)
            .await
            .context("api_tokens")?;
        w.commit().await
    }
}

/// Adds tenant `id` inside `tx` unless it exists; true when it was added.
async fn insert_tenant(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    kind: TenantKind,
) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO tenants (id, kind, name, created_at) VALUES ($1, $2, '', $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(now())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Adds a token for `tenant` inside `tx`; returns the token.
async fn insert_token(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
    name: &str,
) -> Result<String> {
    let name = name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        bail!(
            "een tokennaam heeft hoogstens 100 tekens, zonder stuurtekens / a token name has at most 100 characters, no control characters"
        );
    }
    let token = new_token();
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, tenant_id, created_at, name) VALUES ($1, $2, $3, $4)",
    )
    .bind(sha256_hex(&[&token]))
    .bind(tenant)
    .bind(now())
    .bind(name)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}
