//! Who is using the web app: users per tenant with a role, argon2id password
//! hashes, sessions in a cookie, CSRF tokens on every form, lock-out after
//! repeated failures.
//!
//! The API keeps its bearer tokens (machines); people log in here. A session
//! cookie holds a random token of which only the SHA-256 is stored, and it
//! is `HttpOnly` (no script reads it), `Secure` (never sent over plain HTTP
//! except to localhost, which browsers treat as secure) and `SameSite=Strict`
//! (another site cannot make the browser send it). Every form also carries
//! the session's CSRF token, checked by [`Post`] before a handler runs, so a
//! form posted from elsewhere does nothing even in a browser that ignores
//! SameSite.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, Extension, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use super::limit::{LoginLimiter, UNKNOWN_PEER};
use super::notice::{self, Notice};
use super::{WebError, page};
use crate::server::AppState;
pub use crate::store::audit;
use crate::store::{Store, Tenant, TenantKind, new_id, new_token, now, sha256_hex};

/// Where a user chooses their own password.
pub const PASSWORD_PAGE: &str = "/wachtwoord";

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "loket_sessie";
/// The login form's CSRF cookie (there is no session yet to hold the token).
const LOGIN_COOKIE: &str = "loket_login";
/// A session lasts one working day.
const SESSION_HOURS: i64 = 10;
/// Failed logins in a row before the account is locked...
pub const MAX_FAILED_LOGINS: i64 = 5;
/// ...for this long.
pub const LOCK_MINUTES: i64 = 15;

/// What a user may do. A begeleider registers attendance and reads the
/// participants; back-office staff also review rejections and declare;
/// beheer also manages users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Begeleider,
    Backoffice,
    Beheer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Begeleider, Role::Backoffice, Role::Beheer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Begeleider => "begeleider",
            Role::Backoffice => "backoffice",
            Role::Beheer => "beheer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Review and declarations.
    pub fn back_office(self) -> bool {
        matches!(self, Role::Backoffice | Role::Beheer)
    }
}

/// A logged-in user, as every page handler receives it.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub id: String,
    pub tenant: Tenant,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub csrf: String,
    /// Logged in with a temporary password (a reset by beheer): every page
    /// but the password form and logging out leads to the password form.
    pub must_change_password: bool,
}

impl WebUser {
    /// Refuses a user whose role may not use a page (403, with the reason).
    pub fn require_back_office(&self) -> Result<(), WebError> {
        if self.role.back_office() {
            Ok(())
        } else {
            Err(WebError::Forbidden(Box::new(self.clone())))
        }
    }

    pub fn require_beheer(&self) -> Result<(), WebError> {
        if self.role == Role::Beheer {
            Ok(())
        } else {
            Err(WebError::Forbidden(Box::new(self.clone())))
        }
    }

    /// Whose outcome data (measurements, goals, evaluations) this user may
    /// see. They are special personal data (health, the course of someone's
    /// life), so less is open than for attendance: a begeleider sees the
    /// participants of the groups they work with (`user_groups`, set on
    /// /gebruikers), the back office and beheer every participant of the
    /// provider (they make the financiers' reports), and a municipality's
    /// users none of the provider's.
    pub async fn outcome_scope(&self, state: &AppState) -> Result<OutcomeScope, WebError> {
        if self.tenant.kind != TenantKind::Aanbieder {
            return Ok(OutcomeScope::Nobody);
        }
        if self.role.back_office() {
            return Ok(OutcomeScope::All);
        }
        let groups =
            crate::record::outcomes::groups_of_user(state.store().pool(), &self.id).await?;
        Ok(OutcomeScope::Groups(groups))
    }

    /// Refuses (403) a user who may not see this participant's outcome data;
    /// a participant of another tenant is not found (404).
    pub async fn require_outcomes(
        &self,
        state: &AppState,
        participant: &str,
    ) -> Result<(), WebError> {
        let group: Option<(Option<String>,)> =
            sqlx::query_as("SELECT group_name FROM participants WHERE tenant_id = $1 AND id = $2")
                .bind(&self.tenant.id)
                .bind(participant)
                .fetch_optional(state.store().pool())
                .await?;
        let Some((group,)) = group else {
            return Err(WebError::NotFound);
        };
        if self.outcome_scope(state).await?.allows(group.as_deref()) {
            Ok(())
        } else {
            Err(WebError::Forbidden(Box::new(self.clone())))
        }
    }
}

/// Whose outcome data a user may see ([`WebUser::outcome_scope`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeScope {
    /// Every participant of the tenant.
    All,
    /// The participants of these groups.
    Groups(Vec<String>),
    /// None.
    Nobody,
}

impl OutcomeScope {
    /// Whether a participant of `group` is in scope.
    pub fn allows(&self, group: Option<&str>) -> bool {
        match self {
            OutcomeScope::All => true,
            OutcomeScope::Groups(groups) => group.is_some_and(|g| groups.iter().any(|x| x == g)),
            OutcomeScope::Nobody => false,
        }
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(Redirect::to("/login").into_response());
        };
        match session_user(state.store(), &token).await {
            Ok(Some(u))
                if u.must_change_password
                    && !matches!(parts.uri.path(), PASSWORD_PAGE | "/logout") =>
            {
                Err(Redirect::to(PASSWORD_PAGE).into_response())
            }
            Ok(Some(u)) => Ok(u),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(WebError::Internal(e).into_response()),
        }
    }
}

/// The user of a live session.
async fn session_user(store: &Store, token: &str) -> Result<Option<WebUser>> {
    if token.len() != 64 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT u.id, u.tenant_id, u.username, u.display_name, u.role, u.must_change_password, s.csrf_token \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.deactivated_at IS NULL",
    )
    .bind(sha256_hex(&[token]))
    .bind(now())
    .fetch_optional(store.pool())
    .await
    .context("reading the session")?;
    let Some(r) = row else { return Ok(None) };
    let tenant_id: String = r.try_get("tenant_id")?;
    let role: String = r.try_get("role")?;
    Ok(Some(WebUser {
        id: r.try_get("id")?,
        tenant: Tenant {
            kind: TenantKind::from_id(&tenant_id)?,
            id: tenant_id,
        },
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: Role::parse(&role).context("unknown role in the users table")?,
        csrf: r.try_get("csrf_token")?,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
    }))
}

/// A form whose fields include `csrf`.
pub trait CsrfField {
    fn csrf(&self) -> Option<&str>;
}

impl CsrfField for HashMap<String, String> {
    fn csrf(&self) -> Option<&str> {
        self.get("csrf").map(String::as_str)
    }
}

/// Implements [`CsrfField`] for form structs with a `csrf: String` field.
macro_rules! csrf_form {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::web::auth::CsrfField for $t {
            fn csrf(&self) -> Option<&str> {
                Some(&self.csrf)
            }
        })*
    };
}
pub(crate) use csrf_form;

/// A POSTed form of a logged-in user whose CSRF token matched: the only way
/// a page handler receives a form, so no form goes unchecked.
pub struct Post<T>(pub WebUser, pub T);

impl<T> FromRequest<AppState> for Post<T>
where
    T: DeserializeOwned + CsrfField + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let user = WebUser::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let axum_extra::extract::Form(form) =
            axum_extra::extract::Form::<T>::from_request(req, state)
                .await
                .map_err(|e| {
                    WebError::BadRequest(format!("formulier onleesbaar: {e}")).into_response()
                })?;
        if !same_secret(form.csrf().unwrap_or_default(), &user.csrf) {
            return Err(WebError::Csrf.into_response());
        }
        Ok(Post(user, form))
    }
}

/// Compares secrets without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn hash_password(password: &str) -> Result<String> {
    let bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
}

impl PasswordProblem {
    pub fn nl(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "het wachtwoord moet minstens 10 tekens hebben",
            PasswordProblem::TooLong => "het wachtwoord is langer dan 200 tekens",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "the password must have at least 10 characters",
            PasswordProblem::TooLong => "the password is longer than 200 characters",
        }
    }
}

/// A password loket accepts: long enough to resist guessing, short enough
/// to hash quickly.
pub fn check_password(password: &str) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < 10 {
        return Err(PasswordProblem::TooShort);
    }
    if n > 200 {
        return Err(PasswordProblem::TooLong);
    }
    Ok(())
}

/// Why [`add_user`] did not add the user: the page shows each as a fixed
/// notice, the command line the bilingual text.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    #[error(
        "gebruikersnaam: 1 tot 64 letters, cijfers of . _ - @ / username: 1 to 64 letters, digits or . _ - @"
    )]
    Username,
    #[error("{} / {}", .0.nl(), .0.en())]
    Password(PasswordProblem),
    #[error(
        "tenant {0} bestaat niet (loket tenant add) / tenant {0} does not exist (loket tenant add)"
    )]
    NoTenant(String),
    #[error("gebruiker {0} bestaat al / user {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Creates a user of `tenant` (`loket user add`, the beheer page, the demo).
pub async fn add_user(
    store: &Store,
    tenant: &str,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> Result<String, AddUserError> {
    let username = username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(AddUserError::Username);
    }
    check_password(password).map_err(AddUserError::Password)?;
    let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_optional(store.pool())
        .await
        .context("looking up the tenant")?;
    if exists.is_none() {
        return Err(AddUserError::NoTenant(tenant.to_string()));
    }
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .context("hashing the password")??;
    let id = new_id();
    let mut w = store.begin_write().await?;
    let done = sqlx::query(
        "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, username) DO NOTHING",
    )
    .bind(&id)
    .bind(tenant)
    .bind(username)
    .bind(display_name.trim())
    .bind(role.as_str())
    .bind(&hash)
    .bind(now())
    .execute(&mut *w.tx)
    .await
    .context("storing the user")?;
    if done.rows_affected() != 1 {
        return Err(AddUserError::Exists(username.to_string()));
    }
    w.commit().await?;
    Ok(id)
}

/// Reserves one password check of an account, atomically: counted as a
/// failure before the hash is checked (a right password resets the count),
/// and refused once [`MAX_FAILED_LOGINS`] are counted until the lock ends.
/// One conditional UPDATE, so parallel attempts, in this process or
/// another, can never check more than the limit: each either takes one of
/// the remaining checks or finds none. The reservation that reaches the
/// limit locks the account at once, so a right password that comes after it
/// in the same burst is refused too. A lock that has ended starts a new
/// count. Returns the reserved count with the user's id and hash.
const RESERVE_CHECK: &str = "UPDATE users SET \
    failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= $3 THEN 1 ELSE failed_logins + 1 END, \
    locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= $3 THEN 1 ELSE failed_logins + 1 END) >= $4 \
                        THEN $5 ELSE NULL END \
    WHERE tenant_id = $1 AND username = $2 AND deactivated_at IS NULL \
      AND ((locked_until IS NOT NULL AND locked_until <= $3) OR (locked_until IS NULL AND failed_logins < $4)) \
    RETURNING id, password_hash, failed_logins";

/// Checks a login and opens a session; returns the session token, or `None`
/// when the login is refused. An unknown user, a locked account and a wrong
/// password are refused alike, after the same argon2id work, so neither the
/// answer nor its timing tells which names exist or are locked.
pub async fn login(
    store: &Store,
    tenant: &str,
    username: &str,
    password: &str,
) -> Result<Option<String>> {
    let lock_end = timestamp(Utc::now() + Duration::minutes(LOCK_MINUTES));
    let mut w = store.begin_write().await?;
    let reserved = sqlx::query(RESERVE_CHECK)
        .bind(tenant)
        .bind(username)
        .bind(now())
        .bind(MAX_FAILED_LOGINS)
        .bind(lock_end)
        .fetch_optional(&mut *w.tx)
        .await
        .context("reserving a password check")?;
    w.commit().await?;
    let Some(r) = reserved else {
        // Unknown or locked: the same work as a real check.
        verify_password(password, DUMMY_HASH).await?;
        tracing::info!(kind = "login", outcome = "refused", "login refused");
        return Ok(None);
    };
    let user_id: String = r.try_get("id")?;
    let stored: String = r.try_get("password_hash")?;
    let counted: i64 = r.try_get("failed_logins")?;
    if !verify_password(password, &stored).await? {
        let locked = counted >= MAX_FAILED_LOGINS;
        if locked {
            let mut w = store.begin_write().await?;
            audit(
                &mut w,
                tenant,
                username,
                "account_locked",
                Some(("user", &user_id)),
                serde_json::json!({}),
            )
            .await?;
            w.commit().await?;
        }
        tracing::info!(kind = "login", outcome = "failed", locked, "login failed");
        return Ok(None);
    }
    let token = new_token();
    let mut w = store.begin_write().await?;
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(&user_id)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now())
        .execute(&mut *w.tx)
        .await?;
    let expires = (Utc::now() + Duration::hours(SESSION_HOURS))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, tenant_id, csrf_token, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(sha256_hex(&[&token]))
    .bind(&user_id)
    .bind(tenant)
    .bind(new_token())
    .bind(now())
    .bind(expires)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    tracing::info!(kind = "login", outcome = "ok", "login");
    Ok(Some(token))
}

/// A moment as the database keeps it, in [`now`]'s format (so the two
/// compare as text).
fn timestamp(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A valid argon2id hash of a random password, verified against when the
/// user name is unknown or the account locked.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2ZkPpbq4Qr5Lb0MBJxd0jSX2y9OvrYXCR5FxHkq5bbk";

/// Checks a password against its hash off the async threads, at most as
/// many at once as there are cores: each check holds about 19 MiB and a
/// core for tens of milliseconds, so a burst of logins queues here instead
/// of taking memory and every blocking thread.
async fn verify_password(password: &str, hash: &str) -> Result<bool> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let _permit = permits
        .acquire()
        .await
        .context("password check permits closed")?;
    let (pw, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || password_matches(&pw, &hash))
        .await
        .context("password check failed")
}

fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .build()
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    melding: Option<String>,
}

/// `GET /login`: the form, with a fresh CSRF token in a cookie and a field.
pub async fn login_page(
    jar: CookieJar,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    let token = new_token();
    let body = maud::html! {
        h1 { "Inloggen" }
        (notice::show(q.melding.as_deref()))
        form.login method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            label for="organisatie" { "Organisatie (AGB-code of gemeentecode)" }
            input #organisatie name="organisatie" required autocomplete="organization" inputmode="numeric";
            label for="gebruiker" { "Gebruikersnaam" }
            input #gebruiker name="gebruiker" required autocomplete="username";
            label for="wachtwoord" { "Wachtwoord" }
            input #wachtwoord name="wachtwoord" type="password" required autocomplete="current-password";
            button type="submit" { "Inloggen" }
        }
    };
    (
        jar.add(cookie(LOGIN_COOKIE, token)),
        page("Inloggen", None, body),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    organisatie: String,
    gebruiker: String,
    wachtwoord: String,
}

/// `POST /login`: rate limited per peer address (see [`LoginLimiter`]),
/// then checked; every refusal is the same redirect.
pub async fn login_submit(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<LoginLimiter>>,
    client: Option<Extension<crate::server::client::ClientAddr>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    jar: CookieJar,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    let ip = match (client, peer) {
        (Some(Extension(c)), _) => c.0,
        (None, Some(Extension(ConnectInfo(addr)))) => addr.ip(),
        (None, None) => {
            // Served without connection info: every login shares one limit.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "the server does not pass the peer address; all logins share one rate limit"
                );
            });
            UNKNOWN_PEER
        }
    };
    if let Err(wait) = limiter.take(ip) {
        tracing::warn!(
            kind = "login",
            outcome = "rate_limited",
            "login attempts over the limit of this address"
        );
        return too_many_attempts(wait);
    }
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|e| same_secret(&e, &f.csrf)) {
        return Notice::FormExpired.redirect("/login");
    }
    let tenant = f.organisatie.trim();
    let username = f.gebruiker.trim();
    if tenant.len() > 16 || username.len() > 64 || f.wachtwoord.len() > 1024 {
        return Notice::LoginFailed.redirect("/login");
    }
    match login(state.store(), tenant, username, &f.wachtwoord).await {
        Ok(Some(token)) => {
            let jar = jar
                .remove(Cookie::build(LOGIN_COOKIE).path("/"))
                .add(cookie(SESSION_COOKIE, token));
            (jar, Redirect::to("/")).into_response()
        }
        Ok(None) => Notice::LoginFailed.redirect("/login"),
        Err(e) => WebError::Internal(e).into_response(),
    }
}

/// 429 with Retry-After: this address tried to log in too often.
fn too_many_attempts(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + 1;
    let body = maud::html! {
        h1 { "Te veel inlogpogingen" }
        p.melding.fout role="alert" {
            "Er is vanaf dit adres te vaak geprobeerd in te loggen. Wacht even en probeer het opnieuw."
        }
        p { a href="/login" { "Naar het inlogscherm" } }
    };
    let mut res = (
        StatusCode::TOO_MANY_REQUESTS,
        page("Te veel inlogpogingen", None, body),
    )
        .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    res
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}
csrf_form!(CsrfOnly);

/// `POST /logout`: ends the session in the database, not only in the browser.
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    Post(_user, _form): Post<CsrfOnly>,
) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let hash = sha256_hex(&[c.value()]);
        if let Err(e) = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash)
            .execute(state.store().pool())
            .await
        {
            return WebError::Internal(e.into()).into_response();
        }
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    (jar, Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_valid_argon2_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!password_matches("anything", DUMMY_HASH));
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse battery!", &h));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", ""));
    }
}

/// A user as the beheer page lists them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub locked_until: Option<String>,
    pub deactivated_at: Option<String>,
    pub must_change_password: i64,
    pub created_at: String,
}

/// An account's state, as the beheer page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    Active,
    Locked,
    Deactivated,
    MustChangePassword,
}

impl AccountState {
    pub fn nl(self) -> &'static str {
        match self {
            AccountState::Active => "actief",
            AccountState::Locked => "tijdelijk geblokkeerd",
            AccountState::Deactivated => "gedeactiveerd",
            AccountState::MustChangePassword => "moet wachtwoord kiezen",
        }
    }
}

impl UserRow {
    /// The account's state at `now` (a deactivated account is that first).
    pub fn state(&self, now: &str) -> AccountState {
        if self.deactivated_at.is_some() {
            AccountState::Deactivated
        } else if self.locked_until.as_deref().is_some_and(|t| t > now) {
            AccountState::Locked
        } else if self.must_change_password != 0 {
            AccountState::MustChangePassword
        } else {
            AccountState::Active
        }
    }
}

/// A tenant's users, by user name.
pub async fn users(store: &Store, tenant: &str) -> Result<Vec<UserRow>> {
    sqlx::query_as::<_, UserRow>(
        "SELECT username, display_name, role, locked_until, deactivated_at, must_change_password, created_at \
         FROM users WHERE tenant_id = $1 ORDER BY username",
    )
    .bind(tenant)
    .fetch_all(store.pool())
    .await
    .context("reading the users")
}

/// What beheer does to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// Ends a lock after failed logins.
    Unlock,
    /// A temporary password, shown once; the user chooses their own at the
    /// next login. Ends the user's sessions.
    ResetPassword,
    /// No more logins; sessions end. The account stays, so the audit trail
    /// and the access log keep naming who did what.
    Deactivate,
    Activate,
    Role(Role),
}

impl AccountChange {
    fn action(self) -> &'static str {
        match self {
            AccountChange::Unlock => "user_unlocked",
            AccountChange::ResetPassword => "user_password_reset",
            AccountChange::Deactivate => "user_deactivated",
            AccountChange::Activate => "user_activated",
            AccountChange::Role(_) => "user_role_changed",
        }
    }
}

/// Why an account change is refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("gebruiker niet gevonden / user not found")]
    NotFound,
    #[error(
        "uw eigen rol en account wijzigt u niet zelf / you do not change your own role or account"
    )]
    Yourself,
    #[error("dit is de laatste actieve beheerder / this is the last active administrator")]
    LastBeheer,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Characters of a temporary password: no 0/O, 1/l/I, so it can be read
/// out over the phone.
const TEMPORARY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A temporary password: four groups of four, about 92 bits.
fn temporary_password() -> String {
    let bytes: [u8; 16] = rand::random();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| TEMPORARY_ALPHABET[usize::from(*b) % TEMPORARY_ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Changes `username`'s account as `by` (a beheer user of the same
/// tenant), with an audit trail entry in the same transaction. Returns the
/// temporary password of a reset, to be shown once. Nobody changes their
/// own role or deactivates themselves, and the last active beheer keeps
/// that role, so a tenant can never lock itself out.
pub async fn change_account(
    store: &Store,
    by: &WebUser,
    username: &str,
    change: AccountChange,
) -> Result<Option<String>, AccountError> {
    let temporary = match change {
        AccountChange::ResetPassword => {
            let pw = temporary_password();
            let hashed = pw.clone();
            let hash = tokio::task::spawn_blocking(move || hash_password(&hashed))
                .await
                .context("hashing the password")??;
            Some((pw, hash))
        }
        _ => None,
    };
    let tenant = &by.tenant.id;
    let mut w = store.begin_write().await?;
    let row = sqlx::query(
        "SELECT id, role, deactivated_at FROM users WHERE tenant_id = $1 AND username = $2",
    )
    .bind(tenant)
    .bind(username)
    .fetch_optional(&mut *w.tx)
    .await
    .context("reading the user")?;
    let Some(row) = row else {
        return Err(AccountError::NotFound);
    };
    let id: String = row.try_get("id").context("users.id")?;
    let role: String = row.try_get("role").context("users.role")?;
    let active = row
        .try_get::<Option<String>, _>("deactivated_at")
        .context("users.deactivated_at")?
        .is_none();
    let loses_beheer = role == Role::Beheer.as_str()
        && active
        && matches!(
            change,
            AccountChange::Deactivate | AccountChange::Role(Role::Begeleider | Role::Backoffice)
        );
    if id == by.id && matches!(change, AccountChange::Deactivate | AccountChange::Role(_)) {
        return Err(AccountError::Yourself);
    }
    if loses_beheer {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = $2 AND deactivated_at IS NULL AND id <> $3",
        )
        .bind(tenant)
        .bind(Role::Beheer.as_str())
        .bind(&id)
        .fetch_one(&mut *w.tx)
        .await
        .context("counting beheer users")?;
        if others == 0 {
            return Err(AccountError::LastBeheer);
        }
    }
    let end_sessions = matches!(
        change,
        AccountChange::ResetPassword | AccountChange::Deactivate
    );
    let (sql, detail) = match change {
        AccountChange::Unlock => (
            "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1",
            serde_json::json!({}),
        ),
        AccountChange::ResetPassword => (
            "UPDATE users SET password_hash = $2, must_change_password = 1, failed_logins = 0, locked_until = NULL WHERE id = $1",
            serde_json::json!({}),
        ),
        AccountChange::Deactivate => (
            "UPDATE users SET deactivated_at = $2 WHERE id = $1",
            serde_json::json!({}),
        ),
        AccountChange::Activate => (
            "UPDATE users SET deactivated_at = NULL, failed_logins = 0, locked_until = NULL WHERE id = $1",
            serde_json::json!({}),
        ),
        AccountChange::Role(r) => (
            "UPDATE users SET role = $2 WHERE id = $1",
            serde_json::json!({"from": role, "to": r.as_str()}),
        ),
    };
    let mut q = sqlx::query(sql).bind(&id);
    q = match change {
        AccountChange::ResetPassword => q.bind(temporary.as_ref().map(|(_, h)| h.clone())),
        AccountChange::Deactivate => q.bind(now()),
        AccountChange::Role(r) => q.bind(r.as_str()),
        AccountChange::Unlock | AccountChange::Activate => q,
    };
    q.execute(&mut *w.tx).await.context("changing the user")?;
    if end_sessions {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&id)
            .execute(&mut *w.tx)
            .await
            .context("ending the user's sessions")?;
    }
    audit(
        &mut w,
        tenant,
        &by.username,
        change.action(),
        Some(("user", &id)),
        detail,
    )
    .await?;
    w.commit().await?;
    Ok(temporary.map(|(pw, _)| pw))
}

/// Why a user's own password change is refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("het huidige wachtwoord klopt niet / the current password is wrong")]
    Wrong,
    #[error("de nieuwe wachtwoorden verschillen / the new passwords differ")]
    Differ,
    #[error("kies een ander wachtwoord / choose another password")]
    Same,
    #[error("{}", .0.nl())]
    Weak(PasswordProblem),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// A user chooses their own password (after a reset, or any time): the
/// current one checked, the new one twice and different from it.
pub async fn change_own_password(
    store: &Store,
    user: &WebUser,
    current: &str,
    new: &str,
    repeated: &str,
) -> Result<(), PasswordChangeError> {
    if new != repeated {
        return Err(PasswordChangeError::Differ);
    }
    check_password(new).map_err(PasswordChangeError::Weak)?;
    if new == current {
        return Err(PasswordChangeError::Same);
    }
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(&user.id)
        .fetch_one(store.pool())
        .await
        .context("reading the user")?;
    if !verify_password(current, &stored).await? {
        return Err(PasswordChangeError::Wrong);
    }
    let pw = new.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .context("hashing the password")??;
    let mut w = store.begin_write().await?;
    sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0 WHERE id = $2")
        .bind(hash)
        .bind(&user.id)
        .execute(&mut *w.tx)
        .await
        .context("storing the password")?;
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        "password_changed",
        Some(("user", &user.id)),
        serde_json::json!({}),
    )
    .await?;
    w.commit().await?;
    Ok(())
}
