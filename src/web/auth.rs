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

use anyhow::{Context, Result, bail};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use super::{WebError, page};
use crate::server::AppState;
pub use crate::store::audit;
use crate::store::{Store, Tenant, TenantKind, new_id, new_token, now, sha256_hex};

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
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(Redirect::to("/login").into_response());
        };
        match session_user(state.store(), &token).await {
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
        "SELECT u.id, u.tenant_id, u.username, u.display_name, u.role, s.csrf_token \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
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

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A password loket accepts: long enough to resist guessing, short enough
/// to hash quickly.
pub fn check_password(password: &str) -> Result<(), (String, String)> {
    let n = password.chars().count();
    if n < 10 {
        return Err((
            "het wachtwoord moet minstens 10 tekens hebben".into(),
            "the password must have at least 10 characters".into(),
        ));
    }
    if n > 200 {
        return Err((
            "het wachtwoord is langer dan 200 tekens".into(),
            "the password is longer than 200 characters".into(),
        ));
    }
    Ok(())
}

/// Creates a user of `tenant` (`loket user add`, the beheer page, the demo).
pub async fn add_user(
    store: &Store,
    tenant: &str,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> Result<String> {
    let username = username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        bail!(
            "gebruikersnaam: 1 tot 64 letters, cijfers of . _ - @ / username: 1 to 64 letters, digits or . _ - @"
        );
    }
    if let Err((nl, en)) = check_password(password) {
        bail!("{nl} / {en}");
    }
    let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_optional(store.pool())
        .await?;
    if exists.is_none() {
        bail!(
            "tenant {tenant} bestaat niet (loket tenant add) / tenant {tenant} does not exist (loket tenant add)"
        );
    }
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
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
        bail!("gebruiker {username} bestaat al / user {username} already exists");
    }
    w.commit().await?;
    Ok(id)
}

/// Why a login failed, as the login page says it. Unknown user and wrong
/// password read the same, so the page does not reveal which names exist.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    Wrong,
    Locked,
}

/// Checks a login and opens a session; returns the session token.
pub async fn login(
    store: &Store,
    tenant: &str,
    username: &str,
    password: &str,
) -> Result<Result<String, LoginError>> {
    let row = sqlx::query(
        "SELECT id, password_hash, failed_logins, locked_until FROM users WHERE tenant_id = $1 AND username = $2",
    )
    .bind(tenant)
    .bind(username)
    .fetch_optional(store.pool())
    .await?;
    let Some(r) = row else {
        // Hash anyway: an unknown name takes as long as a wrong password.
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || verify_password(&pw, DUMMY_HASH)).await?;
        return Ok(Err(LoginError::Wrong));
    };
    let user_id: String = r.try_get("id")?;
    let stored: String = r.try_get("password_hash")?;
    let locked_until: Option<String> = r.try_get("locked_until")?;
    if locked_until.is_some_and(|t| t > now()) {
        return Ok(Err(LoginError::Locked));
    }
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &stored)).await?;
    let mut w = store.begin_write().await?;
    if !ok {
        // Counted in the database, so parallel guesses count too.
        sqlx::query("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1")
            .bind(&user_id)
            .execute(&mut *w.tx)
            .await?;
        let failed: i64 = sqlx::query("SELECT failed_logins FROM users WHERE id = $1")
            .bind(&user_id)
            .fetch_one(&mut *w.tx)
            .await?
            .try_get("failed_logins")?;
        let locked = failed >= MAX_FAILED_LOGINS;
        if locked {
            let until = (Utc::now() + Duration::minutes(LOCK_MINUTES))
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = $1 WHERE id = $2")
                .bind(until)
                .bind(&user_id)
                .execute(&mut *w.tx)
                .await?;
            audit(
                &mut w,
                tenant,
                username,
                "account_locked",
                Some(("user", &user_id)),
                serde_json::json!({}),
            )
            .await?;
        }
        w.commit().await?;
        tracing::info!(kind = "login", outcome = "failed", locked, "login failed");
        return Ok(Err(if locked {
            LoginError::Locked
        } else {
            LoginError::Wrong
        }));
    }
    let token = new_token();
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
    Ok(Ok(token))
}

/// A valid argon2id hash of a random password, verified against when the
/// user name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2ZkPpbq4Qr5Lb0MBJxd0jSX2y9OvrYXCR5FxHkq5bbk";

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
    fout: Option<String>,
}

/// `GET /login`: the form, with a fresh CSRF token in a cookie and a field.
pub async fn login_page(
    jar: CookieJar,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    let token = new_token();
    let message = match q.fout.as_deref() {
        Some("geblokkeerd") => Some(format!(
            "Dit account is tijdelijk geblokkeerd na {MAX_FAILED_LOGINS} mislukte pogingen. Probeer het over {LOCK_MINUTES} minuten opnieuw."
        )),
        Some("verlopen") => Some("Het formulier was verlopen. Probeer het opnieuw.".to_string()),
        Some(_) => Some("Organisatie, gebruikersnaam of wachtwoord klopt niet.".to_string()),
        None => None,
    };
    let body = maud::html! {
        h1 { "Inloggen" }
        @if let Some(m) = &message { p.melding.fout role="alert" { (m) } }
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

/// `POST /login`.
pub async fn login_submit(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|e| same_secret(&e, &f.csrf)) {
        return Redirect::to("/login?fout=verlopen").into_response();
    }
    let tenant = f.organisatie.trim();
    let username = f.gebruiker.trim();
    if tenant.len() > 16 || username.len() > 64 || f.wachtwoord.len() > 1024 {
        return Redirect::to("/login?fout=onjuist").into_response();
    }
    match login(state.store(), tenant, username, &f.wachtwoord).await {
        Ok(Ok(token)) => {
            let jar = jar
                .remove(Cookie::build(LOGIN_COOKIE).path("/"))
                .add(cookie(SESSION_COOKIE, token));
            (jar, Redirect::to("/")).into_response()
        }
        Ok(Err(LoginError::Locked)) => Redirect::to("/login?fout=geblokkeerd").into_response(),
        Ok(Err(LoginError::Wrong)) => Redirect::to("/login?fout=onjuist").into_response(),
        Err(e) => WebError::Internal(e).into_response(),
    }
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
        assert!(!verify_password("anything", DUMMY_HASH));
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse battery!", &h));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", ""));
    }
}
