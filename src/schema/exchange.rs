//! PLACEHOLDER until the limits25 branch lands (its version replaces this file).
use std::sync::LazyLock;

pub struct StatusInfo {
    pub label_nl: String,
    pub final_: bool,
    pub needs_person: bool,
}

pub struct ExchangeCodes {
    statuses: Vec<(&'static str, StatusInfo)>,
}

static CODES: LazyLock<ExchangeCodes> = LazyLock::new(|| ExchangeCodes {
    statuses: [
        ("Ontvangen", false, false),
        ("DeelsOntvangen", false, false),
        ("DeelberichtAanleveringAfgekeurd", true, true),
        ("WordtVerwerkt", false, false),
        ("AfgekeurdDoorDienst", true, true),
        ("VerwerkingVoltooid", false, false),
        ("WordtAangeboden", false, false),
        ("Bezorgd", true, false),
        ("AanbiedenMislukt", true, true),
        ("BezorgingAfgebroken", true, true),
    ]
    .into_iter()
    .map(|(n, f, p)| {
        (
            n,
            StatusInfo {
                label_nl: n.to_string(),
                final_: f,
                needs_person: p,
            },
        )
    })
    .collect(),
});

impl ExchangeCodes {
    pub fn builtin() -> &'static ExchangeCodes {
        &CODES
    }
    pub fn status(&self, name: &str) -> Option<&StatusInfo> {
        self.statuses
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
    }
    pub fn explain(&self, code: &str, omschrijving: &str) -> String {
        format!("{code}: {omschrijving}")
    }
}
