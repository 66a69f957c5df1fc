//! Gebruikers (beheer only): the tenant's users with their role and state,
//! a form to add one (`loket user add` does the same from the command line,
//! through the same [`super::auth::add_user`]), and per account: unlock, a
//! temporary password shown once, deactivate or activate, change the role,
//! each in the audit trail ([`super::auth::change_account`]). Also every
//! user's own password form (`/wachtwoord`).

use axum::extract::{Path as AxumPath, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{
    AccountChange, AccountError, AccountState, AddUserError, PASSWORD_PAGE, PasswordChangeError,
    PasswordProblem, Post, Role, WebUser, add_user, audit, change_account, change_own_password,
    csrf_form, users,
};
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
    let rows = users(state.store(), &user.tenant.id).await?;
    let now = now();
    let groups = super::evaluations::groups_section(&state, &user).await?;
    let body = html! {
        h1 { "Gebruikers" }
        (notice::show(q.melding.as_deref()))
        table.gebruikers {
            thead { tr { th { "Gebruikersnaam" } th { "Naam" } th { "Rol" } th { "Status" } th { "Beheer" } } }
            tbody {
                @for r in &rows {
                    @let account = r.state(&now);
                    @let own = r.username == user.username;
                    @let base = format!("/gebruikers/{}", r.username);
                    tr {
                        td { (r.username) }
                        td { (r.display_name) }
                        td {
                            @if own { (r.role) } @else {
                                form.regel method="post" action=(format!("{base}/rol")) {
                                    (csrf_field(&user))
                                    label.verborgen for=(format!("rol-{}", r.username)) { "Rol van " (r.username) }
                                    select id=(format!("rol-{}", r.username)) name="rol" {
                                        @for role in Role::ALL {
                                            option value=(role.as_str()) selected[role.as_str() == r.role] { (role.as_str()) }
                                        }
                                    }
                                    button type="submit" { "Rol wijzigen" }
                                }
                            }
                        }
                        td { (account.nl()) }
                        td.acties {
                            @if account == AccountState::Locked {
                                (action(&user, &base, "ontgrendelen", "Ontgrendelen"))
                            }
                            @if !own {
                                (action(&user, &base, "wachtwoord", "Nieuw wachtwoord"))
                                @if account == AccountState::Deactivated {
                                    (action(&user, &base, "activeren", "Activeren"))
                                } @else {
                                    (action(&user, &base, "deactiveren", "Deactiveren"))
                                }
                            }
                        }
                    }
                }
            }
        }
        p { small { "Een gedeactiveerd account kan niet meer inloggen; het blijft bestaan zodat de audittrail en de toegangslog blijven tonen wie wat deed. Een nieuw wachtwoord is tijdelijk: het wordt één keer getoond en de gebruiker kiest bij de volgende aanmelding een eigen wachtwoord." } }
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
        (groups)
    };
    Ok(page("Gebruikers", Some(&user), body))
}

/// One button that posts an account action.
fn action(user: &WebUser, base: &str, what: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("{base}/{what}")) {
            (csrf_field(user))
            button type="submit" { (label) }
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    #[serde(default)]
    rol: Option<String>,
}
csrf_form!(ActionForm);

/// `POST /gebruikers/{gebruiker}/{actie}`: ontgrendelen, wachtwoord,
/// deactiveren, activeren or rol. A new password is shown once, on the
/// page this answers with; the rest redirect back with a notice.
pub async fn act(
    State(state): State<AppState>,
    AxumPath((username, what)): AxumPath<(String, String)>,
    Post(user, f): Post<ActionForm>,
) -> Result<Response, WebError> {
    user.require_beheer()?;
    let change = match what.as_str() {
        "ontgrendelen" => AccountChange::Unlock,
        "wachtwoord" => AccountChange::ResetPassword,
        "deactiveren" => AccountChange::Deactivate,
        "activeren" => AccountChange::Activate,
        "rol" => AccountChange::Role(
            f.rol
                .as_deref()
                .and_then(Role::parse)
                .ok_or_else(|| WebError::BadRequest("onbekende rol".into()))?,
        ),
        _ => return Err(WebError::NotFound),
    };
    match change_account(state.store(), &user, &username, change).await {
        Ok(Some(temporary)) => {
            let body = html! {
                h1 { "Nieuw wachtwoord voor " (username) }
                p.melding.ok role="status" { "Het tijdelijke wachtwoord is:" }
                p { code.wachtwoord { (temporary) } }
                p { "Geef het persoonlijk door. Het wordt niet opnieuw getoond. Bij de volgende aanmelding kiest " (username) " een eigen wachtwoord; eventuele open sessies zijn beëindigd." }
                p { a href="/gebruikers" { "Terug naar Gebruikers" } }
            };
            Ok(page("Nieuw wachtwoord", Some(&user), body))
        }
        Ok(None) => Ok(match change {
            AccountChange::Unlock => Notice::UserUnlocked,
            AccountChange::Deactivate => Notice::UserDeactivated,
            AccountChange::Activate => Notice::UserActivated,
            _ => Notice::RoleChanged,
        }
        .redirect("/gebruikers")),
        Err(AccountError::NotFound) => Err(WebError::NotFound),
        Err(AccountError::Yourself) => Ok(Notice::NotYourself.redirect("/gebruikers")),
        Err(AccountError::LastBeheer) => Ok(Notice::LastBeheer.redirect("/gebruikers")),
        Err(AccountError::Store(e)) => Err(WebError::Internal(e)),
    }
}

#[derive(Deserialize, Default)]
pub struct PasswordQuery {
    #[serde(default)]
    melding: Option<String>,
}

/// `GET /wachtwoord`: choose your own password (required after a reset).
pub async fn password_page(
    user: WebUser,
    Query(q): Query<PasswordQuery>,
) -> Result<Response, WebError> {
    let body = html! {
        h1 { "Wachtwoord wijzigen" }
        (notice::show(q.melding.as_deref()))
        @if user.must_change_password {
            p { "U bent aangemeld met een tijdelijk wachtwoord. Kies eerst een eigen wachtwoord." }
        }
        form.regel method="post" action=(PASSWORD_PAGE) {
            (csrf_field(&user))
            label { "Huidig wachtwoord" input name="huidig" type="password" required autocomplete="current-password"; }
            label { "Nieuw wachtwoord (minstens 10 tekens)" input name="nieuw" type="password" required minlength="10" autocomplete="new-password"; }
            label { "Nieuw wachtwoord nogmaals" input name="herhaald" type="password" required minlength="10" autocomplete="new-password"; }
            button type="submit" { "Opslaan" }
        }
    };
    Ok(page("Wachtwoord wijzigen", Some(&user), body))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    huidig: String,
    nieuw: String,
    herhaald: String,
}
csrf_form!(PasswordForm);

/// `POST /wachtwoord`.
pub async fn change_password(
    State(state): State<AppState>,
    Post(user, f): Post<PasswordForm>,
) -> Result<Response, WebError> {
    let notice =
        match change_own_password(state.store(), &user, &f.huidig, &f.nieuw, &f.herhaald).await {
            Ok(()) => return Ok(Notice::PasswordChanged.redirect("/")),
            Err(PasswordChangeError::Wrong) => Notice::PasswordWrong,
            Err(PasswordChangeError::Differ) => Notice::PasswordsDiffer,
            Err(PasswordChangeError::Same) => Notice::PasswordSame,
            Err(PasswordChangeError::Weak(PasswordProblem::TooShort)) => Notice::PasswordTooShort,
            Err(PasswordChangeError::Weak(PasswordProblem::TooLong)) => Notice::PasswordTooLong,
            Err(PasswordChangeError::Store(e)) => return Err(WebError::Internal(e)),
        };
    Ok(notice.redirect(PASSWORD_PAGE))
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
