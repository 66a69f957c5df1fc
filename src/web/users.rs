//! Gebruikers (beheer only): the tenant's users with their role and lock
//! state, and a form to add one. `loket user add` does the same from the
//! command line, through the same [`super::auth::add_user`].

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use sqlx::Row;

use super::auth::{AddUserError, PasswordProblem, Post, Role, WebUser, add_user, audit, csrf_form};
use super::notice::{self, Notice};
use super::{WebError, csrf_field, page};
use crate::server::AppState;
use crate::store::now;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    melding: Option<String>,
}

/// `GET /gebruikers`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    user.require_beheer()?;
    let rows = sqlx::query(
        "SELECT username, display_name, role, locked_until, created_at FROM users WHERE tenant_id = $1 ORDER BY username",
    )
    .bind(&user.tenant.id)
    .fetch_all(state.store().pool())
    .await?;
    let now = now();
    let body = html! {
        h1 { "Gebruikers" }
        (notice::show(q.melding.as_deref()))
        table {
            thead { tr { th { "Gebruikersnaam" } th { "Naam" } th { "Rol" } th { "Status" } } }
            tbody {
                @for r in &rows {
                    @let locked = r.try_get::<Option<String>, _>("locked_until").ok().flatten().is_some_and(|t| t > now);
                    tr {
                        td { (r.try_get::<String, _>("username").unwrap_or_default()) }
                        td { (r.try_get::<String, _>("display_name").unwrap_or_default()) }
                        td { (r.try_get::<String, _>("role").unwrap_or_default()) }
                        td { @if locked { "tijdelijk geblokkeerd" } @else { "actief" } }
                    }
                }
            }
        }
        h2 { "Gebruiker toevoegen" }
        form.regel method="post" action="/gebruikers" {
            (csrf_field(&user))
            label { "Gebruikersnaam" input name="gebruiker" required maxlength="64" autocomplete="off"; }
            label { "Naam" input name="naam" required maxlength="200"; }
            label { "Rol"
                select name="rol" {
                    @for r in Role::ALL { option value=(r.as_str()) { (r.as_str()) } }
                }
            }
            label { "Wachtwoord (minstens 10 tekens)" input name="wachtwoord" type="password" required minlength="10" autocomplete="new-password"; }
            button type="submit" { "Toevoegen" }
        }
    };
    Ok(page("Gebruikers", Some(&user), body))
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    gebruiker: String,
    naam: String,
    rol: String,
    wachtwoord: String,
}
csrf_form!(AddForm);

/// `POST /gebruikers`.
pub async fn add(
    State(state): State<AppState>,
    Post(user, f): Post<AddForm>,
) -> Result<Response, WebError> {
    user.require_beheer()?;
    let role = Role::parse(&f.rol).ok_or_else(|| WebError::BadRequest("onbekende rol".into()))?;
    match add_user(
        state.store(),
        &user.tenant.id,
        &f.gebruiker,
        &f.naam,
        role,
        &f.wachtwoord,
    )
    .await
    {
        Ok(id) => {
            let mut w = state.store().begin_write().await?;
            audit(
                &mut w,
                &user.tenant.id,
                &user.username,
                "user_added",
                Some(("user", &id)),
                serde_json::json!({"role": role.as_str()}),
            )
            .await?;
            w.commit().await?;
            Ok(Notice::UserAdded.redirect("/gebruikers"))
        }
        Err(e) => {
            let notice = match e {
                AddUserError::Username => Notice::UsernameInvalid,
                AddUserError::Password(PasswordProblem::TooShort) => Notice::PasswordTooShort,
                AddUserError::Password(PasswordProblem::TooLong) => Notice::PasswordTooLong,
                AddUserError::Exists(_) => Notice::UserExists,
                // The beheer user's own tenant exists; anything else is a
                // fault of loket, not of the form.
                AddUserError::NoTenant(_) | AddUserError::Store(_) => {
                    return Err(WebError::Internal(e.into()));
                }
            };
            Ok(notice.redirect("/gebruikers"))
        }
    }
}
