//! Status notices after a redirect ("Groep opgeslagen.", "Inloggen is niet
//! gelukt ..."): the URL carries only a code (`?melding=groep-opgeslagen`),
//! and the page shows the fixed Dutch text of that code. Text from the URL
//! never reaches a page: a link someone else made could otherwise put any
//! message, in loket's own look, in front of a user ("your session expired,
//! call this number"). An unknown code shows nothing.

use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

/// Every notice a page can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    GroupSaved,
    CareEnded,
    RequestQueued,
    DeclarationRun,
    DeclarationRunNothingNew,
    ItemsClosed,
    ItemsResent,
    ItemsResentNothingSent,
    UserAdded,
    UserExists,
    UsernameInvalid,
    PasswordTooShort,
    PasswordTooLong,
    LoginFailed,
    FormExpired,
    DecisionSaved,
    AnswerSent,
    AnswerAlreadySent,
    DecisionCodeInvalid,
    UserUnlocked,
    UserDeactivated,
    UserActivated,
    RoleChanged,
    NotYourself,
    LastBeheer,
    PasswordChanged,
    PasswordWrong,
    PasswordsDiffer,
    PasswordSame,
}

impl Notice {
    pub const ALL: [Notice; 29] = [
        Notice::GroupSaved,
        Notice::CareEnded,
        Notice::RequestQueued,
        Notice::DeclarationRun,
        Notice::DeclarationRunNothingNew,
        Notice::ItemsClosed,
        Notice::ItemsResent,
        Notice::ItemsResentNothingSent,
        Notice::UserAdded,
        Notice::UserExists,
        Notice::UsernameInvalid,
        Notice::PasswordTooShort,
        Notice::PasswordTooLong,
        Notice::LoginFailed,
        Notice::FormExpired,
        Notice::DecisionSaved,
        Notice::AnswerSent,
        Notice::AnswerAlreadySent,
        Notice::DecisionCodeInvalid,
        Notice::UserUnlocked,
        Notice::UserDeactivated,
        Notice::UserActivated,
        Notice::RoleChanged,
        Notice::NotYourself,
        Notice::LastBeheer,
        Notice::PasswordChanged,
        Notice::PasswordWrong,
        Notice::PasswordsDiffer,
        Notice::PasswordSame,
    ];

    /// The code in the URL.
    pub fn code(self) -> &'static str {
        match self {
            Notice::GroupSaved => "groep-opgeslagen",
            Notice::CareEnded => "einde-zorg",
            Notice::RequestQueued => "verzoek-klaar",
            Notice::DeclarationRun => "declaratierun",
            Notice::DeclarationRunNothingNew => "declaratierun-niets",
            Notice::ItemsClosed => "afgesloten",
            Notice::ItemsResent => "opnieuw-ingediend",
            Notice::ItemsResentNothingSent => "opnieuw-geen-bericht",
            Notice::UserAdded => "gebruiker-toegevoegd",
            Notice::UserExists => "gebruiker-bestaat",
            Notice::UsernameInvalid => "gebruikersnaam-ongeldig",
            Notice::PasswordTooShort => "wachtwoord-te-kort",
            Notice::PasswordTooLong => "wachtwoord-te-lang",
            Notice::LoginFailed => "inloggen-mislukt",
            Notice::FormExpired => "formulier-verlopen",
            Notice::DecisionSaved => "beslissing-opgeslagen",
            Notice::AnswerSent => "325-verstuurd",
            Notice::AnswerAlreadySent => "325-al-verstuurd",
            Notice::DecisionCodeInvalid => "beslissing-ongeldig",
            Notice::UserUnlocked => "gebruiker-ontgrendeld",
            Notice::UserDeactivated => "gebruiker-gedeactiveerd",
            Notice::UserActivated => "gebruiker-geactiveerd",
            Notice::RoleChanged => "rol-gewijzigd",
            Notice::NotYourself => "niet-uzelf",
            Notice::LastBeheer => "laatste-beheerder",
            Notice::PasswordChanged => "wachtwoord-gewijzigd",
            Notice::PasswordWrong => "wachtwoord-onjuist",
            Notice::PasswordsDiffer => "wachtwoorden-verschillen",
            Notice::PasswordSame => "wachtwoord-hetzelfde",
        }
    }

    pub fn parse(code: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.code() == code)
    }

    /// The text the page shows.
    pub fn text(self) -> &'static str {
        match self {
            Notice::GroupSaved => "Groep opgeslagen.",
            Notice::CareEnded => {
                "Einde van de zorg geregistreerd; de dagelijkse start/stop-run stuurt de stopberichten."
            }
            Notice::RequestQueued => {
                "Het verzoek staat klaar voor verzending aan de gemeente; het staat hieronder bij de verzoeken."
            }
            Notice::DeclarationRun => {
                "De declaratierun is uitgevoerd: de nieuwe declaraties staan in de lijst en zijn in de wachtrij gezet. Wat is tegengehouden staat bij Afgekeurd."
            }
            Notice::DeclarationRunNothingNew => {
                "De declaratierun is uitgevoerd: er was niets nieuws te declareren."
            }
            Notice::ItemsClosed => "Afgesloten.",
            Notice::ItemsResent => {
                "Opnieuw ingediend; de declaratierun heeft de gecorrigeerde regels verzonden (zie Declaraties)."
            }
            Notice::ItemsResentNothingSent => {
                "Opnieuw ingediend, maar de declaratierun maakte geen nieuw bericht. Controleer of de gegevens gecorrigeerd zijn."
            }
            Notice::UserAdded => "Gebruiker toegevoegd.",
            Notice::UserExists => "Deze gebruikersnaam bestaat al.",
            Notice::UsernameInvalid => "Gebruikersnaam: 1 tot 64 letters, cijfers of . _ - @.",
            Notice::PasswordTooShort => "Het wachtwoord moet minstens 10 tekens hebben.",
            Notice::PasswordTooLong => "Het wachtwoord is langer dan 200 tekens.",
            Notice::LoginFailed => {
                "Inloggen is niet gelukt. Organisatie, gebruikersnaam of wachtwoord klopt niet, of het account is na herhaalde mislukte pogingen tijdelijk geblokkeerd. Probeer het later opnieuw."
            }
            Notice::FormExpired => "Het formulier was verlopen. Probeer het opnieuw.",
            Notice::DecisionSaved => {
                "Beslissing opgeslagen en vastgelegd; het antwoord (325) is opnieuw opgebouwd en wacht tot u het verstuurt."
            }
            Notice::AnswerSent => "Het antwoord (325) staat in de wachtrij en wordt verzonden.",
            Notice::AnswerAlreadySent => {
                "Het antwoord (325) op deze declaratie is al verstuurd; er kan niets meer worden gewijzigd."
            }
            Notice::DecisionCodeInvalid => {
                "Kies bij afkeuren een retourcode en vul altijd een reden in."
            }
            Notice::UserUnlocked => "Account ontgrendeld; de gebruiker kan weer inloggen.",
            Notice::UserDeactivated => {
                "Account gedeactiveerd; open sessies zijn beëindigd en inloggen kan niet meer."
            }
            Notice::UserActivated => "Account weer actief.",
            Notice::RoleChanged => "Rol gewijzigd; de nieuwe rol geldt direct.",
            Notice::NotYourself => {
                "Uw eigen rol en account wijzigt u niet zelf; vraag een andere beheerder."
            }
            Notice::LastBeheer => {
                "Dit is de laatste actieve beheerder; maak eerst een ander account beheerder."
            }
            Notice::PasswordChanged => "Uw wachtwoord is gewijzigd.",
            Notice::PasswordWrong => "Het huidige wachtwoord klopt niet.",
            Notice::PasswordsDiffer => "De twee nieuwe wachtwoorden zijn niet gelijk.",
            Notice::PasswordSame => "Kies een ander wachtwoord dan het huidige.",
        }
    }

    /// Errors are shown as an alert, the rest as a status.
    fn is_error(self) -> bool {
        matches!(
            self,
            Notice::UserExists
                | Notice::UsernameInvalid
                | Notice::PasswordTooShort
                | Notice::PasswordTooLong
                | Notice::LoginFailed
                | Notice::FormExpired
                | Notice::AnswerAlreadySent
                | Notice::DecisionCodeInvalid
                | Notice::NotYourself
                | Notice::LastBeheer
                | Notice::PasswordWrong
                | Notice::PasswordsDiffer
                | Notice::PasswordSame
        )
    }

    /// A redirect to `to` (a path, possibly with a query) with this notice.
    pub fn redirect(self, to: &str) -> Response {
        let sep = if to.contains('?') { '&' } else { '?' };
        Redirect::to(&format!("{to}{sep}melding={}", self.code())).into_response()
    }
}

/// The notice of a `melding` query parameter; nothing for an unknown code.
pub fn show(code: Option<&str>) -> Markup {
    match code.and_then(Notice::parse) {
        Some(n) if n.is_error() => html! { p.melding.fout role="alert" { (n.text()) } },
        Some(n) => html! { p.melding.ok role="status" { (n.text()) } },
        None => html! {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        for n in Notice::ALL {
            assert_eq!(Notice::parse(n.code()), Some(n));
        }
        assert_eq!(Notice::parse("Groep opgeslagen."), None);
        assert_eq!(show(Some("<script>alert(1)</script>")).into_string(), "");
        assert!(
            show(Some("gebruiker-bestaat"))
                .into_string()
                .contains("fout")
        );
    }
}
