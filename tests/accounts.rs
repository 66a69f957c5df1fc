//! Account administration in the web app, over HTTP on both backends: a
//! beheer user unlocks a locked account, gives a temporary password that
//! is shown once and must be replaced at the next login, deactivates and
//! activates an account, and changes a role; nobody changes their own role
//! or removes the last beheer; every change is in the audit trail.

use loket::web::auth::{MAX_FAILED_LOGINS, Role, add_user};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(beheer_manages_accounts);

const TENANT: &str = "12345678";
const PASSWORD: &str = "het-goede-wachtwoord";

async fn logged_in(s: &Server, user: &str, password: &str) -> WebClient {
    let mut c = WebClient::new(&s.base);
    let p = c.login(TENANT, user, password).await;
    assert_eq!(p.status, 303, "{user}: {}", p.body);
    c
}

/// Posts an account action from the users page.
async fn act(c: &mut WebClient, user: &str, what: &str, extra: &[(&str, &str)]) -> Page {
    let csrf = c.get("/gebruikers").await.csrf();
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(extra);
    c.post(&format!("/gebruikers/{user}/{what}"), &form).await
}

async fn audit_actions(s: &Server) -> Vec<String> {
    sqlx::query("SELECT action FROM audit_log WHERE tenant_id = $1 ORDER BY created_at, id")
        .bind(TENANT)
        .fetch_all(s.state.store().pool())
        .await
        .expect("audit")
        .iter()
        .map(|r| r.try_get::<String, _>("action").expect("action"))
        .collect()
}

async fn beheer_manages_accounts(db: Db) {
    let s = Server::start(db).await;
    s.tenant_api(TENANT).await;
    for (u, role) in [
        ("anna", Role::Beheer),
        ("bram", Role::Begeleider),
        ("cor", Role::Backoffice),
    ] {
        add_user(s.state.store(), TENANT, u, u, role, PASSWORD)
            .await
            .expect("user");
    }
    let mut anna = logged_in(&s, "anna", PASSWORD).await;

    // Locked after failed logins; unlocked by beheer.
    for _ in 0..MAX_FAILED_LOGINS {
        WebClient::new(&s.base)
            .login(TENANT, "bram", "fout-wachtwoord")
            .await;
    }
    assert!(
        anna.get("/gebruikers")
            .await
            .body
            .contains("tijdelijk geblokkeerd")
    );
    let p = act(&mut anna, "bram", "ontgrendelen", &[]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/gebruikers?melding=gebruiker-ontgrendeld")
    );
    let mut bram = logged_in(&s, "bram", PASSWORD).await;
    assert_eq!(bram.get("/registratie").await.status, 200);

    // A temporary password, shown once; the old session ends; the next
    // login leads to the password form until bram chooses his own.
    let p = act(&mut anna, "bram", "wachtwoord", &[]).await;
    assert_eq!(p.status, 200);
    let temporary = p
        .body
        .split("<code class=\"wachtwoord\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("the temporary password")
        .to_string();
    assert_eq!(temporary.len(), 19, "{temporary}");
    assert_eq!(
        bram.get("/registratie").await.location.as_deref(),
        Some("/login")
    );
    assert_eq!(
        WebClient::new(&s.base)
            .login(TENANT, "bram", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/login?melding=inloggen-mislukt")
    );
    let mut bram = logged_in(&s, "bram", &temporary).await;
    assert_eq!(
        bram.get("/registratie").await.location.as_deref(),
        Some("/wachtwoord")
    );
    let form = bram.get("/wachtwoord").await;
    assert!(form.body.contains("tijdelijk wachtwoord"));
    let csrf = form.csrf();
    for (current, new, again, notice) in [
        (
            temporary.as_str(),
            "mijn-eigen-wachtwoord",
            "mijn-eigen-wachtwoord-2",
            "/wachtwoord?melding=wachtwoorden-verschillen",
        ),
        (
            "niet-het-goede",
            "mijn-eigen-wachtwoord",
            "mijn-eigen-wachtwoord",
            "/wachtwoord?melding=wachtwoord-onjuist",
        ),
        (
            temporary.as_str(),
            temporary.as_str(),
            temporary.as_str(),
            "/wachtwoord?melding=wachtwoord-hetzelfde",
        ),
        (
            temporary.as_str(),
            "kort",
            "kort",
            "/wachtwoord?melding=wachtwoord-te-kort",
        ),
        (
            temporary.as_str(),
            "mijn-eigen-wachtwoord",
            "mijn-eigen-wachtwoord",
            "/?melding=wachtwoord-gewijzigd",
        ),
    ] {
        let p = bram
            .post(
                "/wachtwoord",
                &[
                    ("csrf", &csrf),
                    ("huidig", current),
                    ("nieuw", new),
                    ("herhaald", again),
                ],
            )
            .await;
        assert_eq!(p.location.as_deref(), Some(notice));
    }
    assert_eq!(bram.get("/registratie").await.status, 200);
    logged_in(&s, "bram", "mijn-eigen-wachtwoord").await;

    // A role change applies at once.
    assert_eq!(bram.get("/afgekeurd").await.status, 403);
    let p = act(&mut anna, "bram", "rol", &[("rol", "backoffice")]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/gebruikers?melding=rol-gewijzigd")
    );
    assert_eq!(bram.get("/afgekeurd").await.status, 200);

    // Deactivated: the session ends, logging in is refused like any wrong
    // login; activated again, bram logs in.
    let p = act(&mut anna, "bram", "deactiveren", &[]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/gebruikers?melding=gebruiker-gedeactiveerd")
    );
    assert_eq!(
        bram.get("/afgekeurd").await.location.as_deref(),
        Some("/login")
    );
    assert_eq!(
        WebClient::new(&s.base)
            .login(TENANT, "bram", "mijn-eigen-wachtwoord")
            .await
            .location
            .as_deref(),
        Some("/login?melding=inloggen-mislukt")
    );
    assert!(anna.get("/gebruikers").await.body.contains("gedeactiveerd"));
    act(&mut anna, "bram", "activeren", &[]).await;
    logged_in(&s, "bram", "mijn-eigen-wachtwoord").await;

    // Not yourself, not the last beheer; others only for beheer.
    let p = act(&mut anna, "anna", "deactiveren", &[]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/gebruikers?melding=niet-uzelf")
    );
    let p = act(&mut anna, "anna", "rol", &[("rol", "begeleider")]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/gebruikers?melding=niet-uzelf")
    );
    act(&mut anna, "cor", "rol", &[("rol", "beheer")]).await;
    let mut cor = logged_in(&s, "cor", PASSWORD).await;
    let p = act(&mut cor, "anna", "rol", &[("rol", "backoffice")]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/gebruikers?melding=rol-gewijzigd")
    );
    let p = act(&mut cor, "anna", "rol", &[("rol", "beheer")]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/gebruikers?melding=rol-gewijzigd")
    );
    act(&mut anna, "cor", "deactiveren", &[]).await;
    // anna is now the only active beheer: cor (deactivated) cannot act, and
    // anna cannot be demoted by anyone.
    assert_eq!(
        cor.get("/gebruikers").await.location.as_deref(),
        Some("/login")
    );
    assert_eq!(
        act(&mut anna, "nobody", "ontgrendelen", &[]).await.status,
        404
    );
    assert_eq!(act(&mut anna, "bram", "verwijderen", &[]).await.status, 404);
    only_beheer_acts(&s).await;

    let actions = audit_actions(&s).await;
    for a in [
        "user_unlocked",
        "user_password_reset",
        "password_changed",
        "user_role_changed",
        "user_deactivated",
        "user_activated",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
}

/// Someone without the beheer role (bram, backoffice by now) posting an
/// account action with a valid CSRF token gets 403, and nothing changes.
async fn only_beheer_acts(s: &Server) {
    let mut bram = logged_in(s, "bram", "mijn-eigen-wachtwoord").await;
    let csrf = bram.get("/registratie").await.csrf();
    let p = bram
        .post("/gebruikers/anna/deactiveren", &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, 403);
    logged_in(s, "anna", PASSWORD).await;
}
