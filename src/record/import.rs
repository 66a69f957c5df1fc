//! `loket import allocations FILE --tenant 0363`: a municipality's
//! allocations from its case system's export, one row per product.
//!
//! The file is read like `loket import registrations` reads a spreadsheet
//! (`;`, `,` or tab, UTF-8 with or without BOM, Dutch or English column
//! names, dates as dd-mm-jjjj or jjjj-mm-dd, a BSN that lost its leading
//! zero gets it back; the helpers of [`crate::registration::csv`]). The rows
//! of one client at one provider become one [`GrantInput`] and go through
//! [`super::grant::grant`], exactly as `POST /allocations` does: one 301 per
//! client and provider, checked, judged, queued and recorded. A file with a
//! wrong row imports nothing unless `--valid-only` (then every client whose
//! rows are all good is granted). Errors name the file, the line and the
//! column, in Dutch and English, never the BSN.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;

use super::grant::{self, AdresInput, ClientInput, GrantInput, Outcome, ProductInput};
use super::requests::Omvang;
use crate::mapping::Mappings;
use crate::registration::csv::{
    FileError, Opened, bsn_cell, line_at, normalise, open, parse_date, read_file,
};
use crate::schema::Schema;
use crate::store::{Store, Tenant, TenantKind};

/// The columns, by meaning, with the header names (normalised: lower case,
/// letters and digits) that mean them.
const COLUMNS: &[(&str, &[&str])] = &[
    ("bsn", &["bsn", "burgerservicenummer"]),
    (
        "achternaam",
        &["achternaam", "geslachtsnaam", "surname", "lastname"],
    ),
    ("voorvoegsel", &["voorvoegsel", "tussenvoegsel", "prefix"]),
    ("voorletters", &["voorletters", "initialen", "initials"]),
    (
        "geboortedatum",
        &["geboortedatum", "birthdate", "dateofbirth"],
    ),
    ("geslacht", &["geslacht", "gender", "sex"]),
    ("straat", &["straat", "straatnaam", "street"]),
    ("huisnummer", &["huisnummer", "housenumber", "nr"]),
    ("huisletter", &["huisletter"]),
    ("toevoeging", &["toevoeging", "huisnummertoevoeging"]),
    ("postcode", &["postcode", "postalcode", "zipcode"]),
    ("plaats", &["plaats", "plaatsnaam", "woonplaats", "city"]),
    (
        "aanbieder",
        &["aanbieder", "agb", "agbcode", "provider", "zorgaanbieder"],
    ),
    (
        "toewijzingnummer",
        &["toewijzingnummer", "toewijzing", "allocationnumber"],
    ),
    ("categorie", &["categorie", "productcategorie", "category"]),
    ("productcode", &["productcode", "product", "code"]),
    (
        "toewijzingsdatum",
        &["toewijzingsdatum", "besluitdatum", "allocationdate"],
    ),
    (
        "ingangsdatum",
        &["ingangsdatum", "begindatum", "startdatum", "start", "from"],
    ),
    ("einddatum", &["einddatum", "enddate", "end", "to"]),
    ("volume", &["volume", "omvang"]),
    ("eenheid", &["eenheid", "unit"]),
    ("frequentie", &["frequentie", "frequency"]),
    ("budget", &["budget", "budgeteuro", "maximaalbudget"]),
];

const REQUIRED: [&str; 4] = ["bsn", "aanbieder", "categorie", "ingangsdatum"];

/// One problem with a row: the column (as meant) and why, in both languages.
#[derive(Debug, Clone)]
pub struct RowError {
    pub column: Option<&'static str>,
    pub nl: String,
    pub en: String,
}

/// One data row as the grant takes it.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    bsn: String,
    aanbieder: String,
    client: Option<ClientInput>,
    product: ProductInput,
}

/// What an import did: per line its problems, and what was granted.
#[derive(Debug, Default)]
pub struct Report {
    /// The column header as written, per meaning.
    headers: HashMap<&'static str, String>,
    pub ignored: Vec<String>,
    pub rows: usize,
    /// (line, problem), in line order.
    pub errors: Vec<(u64, RowError)>,
    /// Products granted and 301s queued.
    pub granted: usize,
    pub messages: usize,
    pub stored: bool,
}

fn err(column: Option<&'static str>, nl: impl Into<String>, en: impl Into<String>) -> RowError {
    RowError {
        column,
        nl: nl.into(),
        en: en.into(),
    }
}

/// Parses the file into rows (or their problems).
fn parse(bytes: &[u8], report: &mut Report) -> Result<Vec<Row>, FileError> {
    let Opened {
        text,
        mut reader,
        headers,
        ..
    } = open(bytes)?;
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let n = normalise(h);
        match COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&n.as_str()))
        {
            Some((meaning, _)) if !index.contains_key(meaning) => {
                index.insert(meaning, i);
                report.headers.insert(meaning, h.trim().to_string());
            }
            _ if n.is_empty() => {}
            _ => report.ignored.push(h.trim().to_string()),
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|c| !index.contains_key(*c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(FileError::new(
            format!("kolommen ontbreken in de kopregel: {}", missing.join(", ")),
            format!(
                "columns missing from the header row: {}",
                missing.join(", ")
            ),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            FileError::new(
                format!("een regel is onleesbaar: {e}"),
                format!("a line is unreadable: {e}"),
            )
        })?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        report.rows += 1;
        let cell = |c: &str| {
            index
                .get(c)
                .and_then(|&i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match row(line, &cell) {
            Ok(r) => rows.push(r),
            Err(errors) => report.errors.extend(errors.into_iter().map(|e| (line, e))),
        }
    }
    Ok(rows)
}

/// One row, or everything wrong with it.
fn row<'c>(line: u64, cell: &dyn Fn(&str) -> Option<&'c str>) -> Result<Row, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut required = |c: &'static str| {
        let v = cell(c);
        if v.is_none() {
            errors.push(err(Some(c), "leeg", "empty"));
        }
        v.unwrap_or_default().to_string()
    };
    let bsn = bsn_cell(&required("bsn"));
    let aanbieder = required("aanbieder");
    let categorie = required("categorie");
    let ingang = required("ingangsdatum");
    let mut date = |c: &'static str, v: Option<&str>| -> Option<String> {
        let v = v?;
        match parse_date(v) {
            Some(d) => Some(d.to_string()),
            None => {
                errors.push(err(
                    Some(c),
                    format!("{v:?} is geen datum (dd-mm-jjjj)"),
                    format!("{v:?} is not a date (dd-mm-yyyy)"),
                ));
                None
            }
        }
    };
    let ingangsdatum = date(
        "ingangsdatum",
        Some(ingang.as_str()).filter(|s| !s.is_empty()),
    );
    let einddatum = date("einddatum", cell("einddatum"));
    let toewijzingsdatum = date("toewijzingsdatum", cell("toewijzingsdatum"));
    let geboortedatum = date("geboortedatum", cell("geboortedatum"));
    let mut number = |c: &'static str| -> Option<i64> {
        let v = cell(c)?;
        match v.replace(['.', ' '], "").parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(err(
                    Some(c),
                    format!("{v:?} is geen geheel getal"),
                    format!("{v:?} is not a whole number"),
                ));
                None
            }
        }
    };
    let volume = number("volume");
    let huisnummer = number("huisnummer");
    let budget = cell("budget").and_then(|v| {
        match crate::registration::csv::parse_decimal(v) {
            // Euros in the export, cents in the message.
            Some(euro) if euro >= 0.0 => Some((euro * 100.0).round() as i64),
            _ => {
                errors.push(err(
                    Some("budget"),
                    format!("{v:?} is geen bedrag in euro's"),
                    format!("{v:?} is not an amount in euros"),
                ));
                None
            }
        }
    });
    let omvang = match (volume, cell("eenheid"), cell("frequentie")) {
        (Some(volume), Some(e), Some(f)) => Some(Omvang {
            volume,
            eenheid: format!("{e:0>2}"),
            frequentie: f.to_string(),
        }),
        (None, None, None) => None,
        _ => {
            errors.push(err(
                Some("volume"),
                "volume, eenheid en frequentie horen bij elkaar",
                "volume, eenheid and frequentie go together",
            ));
            None
        }
    };
    let geslacht = cell("geslacht").map(|g| match g.to_lowercase().as_str() {
        "m" | "man" | "male" => "1".to_string(),
        "v" | "vrouw" | "f" | "female" => "2".to_string(),
        "o" | "onbekend" | "unknown" => "0".to_string(),
        other => other.to_string(),
    });
    let adres = match (cell("straat"), huisnummer, cell("postcode"), cell("plaats")) {
        (Some(s), Some(n), Some(p), Some(w)) => Some(AdresInput {
            straatnaam: s.to_string(),
            huisnummer: n,
            huisletter: cell("huisletter").map(str::to_string),
            toevoeging: cell("toevoeging").map(str::to_string),
            postcode: p.to_string(),
            plaatsnaam: w.to_string(),
        }),
        _ => None,
    };
    let client = (cell("achternaam").is_some() || adres.is_some()).then(|| ClientInput {
        geboortedatum,
        geslacht,
        achternaam: cell("achternaam").map(str::to_string),
        voorvoegsel: cell("voorvoegsel").map(str::to_string),
        voorletters: cell("voorletters").map(str::to_string),
        adres,
        telefoon: None,
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Row {
        line,
        bsn,
        aanbieder,
        client,
        product: ProductInput {
            toewijzing_nummer: cell("toewijzingnummer").map(str::to_string),
            categorie: format!("{categorie:0>2}"),
            code: cell("productcode").map(str::to_string),
            toewijzingsdatum,
            ingangsdatum: ingangsdatum.unwrap_or_default(),
            einddatum,
            omvang,
            budget,
            referentie_aanbieder: None,
        },
    })
}

/// Imports `bytes` for `tenant` (a municipality): parses, groups the rows
/// per client and provider, and grants each group in one transaction
/// (all or nothing, or every good group with `valid_only`).
pub async fn import(
    store: &Store,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &Tenant,
    bytes: &[u8],
    valid_only: bool,
    today: NaiveDate,
) -> Result<Result<Report, FileError>> {
    let mut report = Report::default();
    let rows = match parse(bytes, &mut report) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    // One 301 per client and provider, in the order of the file.
    let mut groups: Vec<((String, String), Vec<Row>)> = Vec::new();
    for r in rows {
        let key = (r.bsn.clone(), r.aanbieder.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let mut w = store.begin_write().await?;
    for ((bsn, aanbieder), group) in &groups {
        let input = GrantInput {
            aanbieder: aanbieder.clone(),
            participant_id: None,
            bsn: Some(bsn.clone()),
            client: group.iter().find_map(|r| r.client.clone()),
            products: group.iter().map(|r| r.product.clone()).collect(),
        };
        sqlx::query("SAVEPOINT grant_group")
            .execute(&mut *w.tx)
            .await?;
        let outcome = grant::grant(&mut w, schema, mappings, tenant, &input, today).await?;
        let lines: Vec<u64> = group.iter().map(|r| r.line).collect();
        match outcome {
            Outcome::Sent(s) => {
                sqlx::query("RELEASE SAVEPOINT grant_group")
                    .execute(&mut *w.tx)
                    .await?;
                report.granted += s.allocations.len();
                report.messages += 1;
                continue;
            }
            Outcome::Refused(r) => {
                // A path into the products names the row; anything else is
                // the whole client's.
                let at = r
                    .path
                    .strip_prefix("/products/")
                    .and_then(|p| p.split('/').next())
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| lines.get(i).copied());
                let column = r.path.rsplit('/').next().and_then(|f| {
                    COLUMNS
                        .iter()
                        .map(|(c, _)| *c)
                        .find(|c| normalise(f) == normalise(c))
                });
                for line in at.map_or(lines.clone(), |l| vec![l]) {
                    report.errors.push((line, err(column, &r.nl, &r.en)));
                }
            }
            Outcome::Findings(findings) => {
                for f in &findings {
                    for &line in &lines {
                        report.errors.push((
                            line,
                            err(
                                None,
                                format!("{} {}: {}", f.rule, f.path, f.nl),
                                format!("{} {}: {}", f.rule, f.path, f.en),
                            ),
                        ));
                    }
                }
            }
            Outcome::NotFound => {
                for &line in &lines {
                    report.errors.push((
                        line,
                        err(Some("bsn"), "onbekende deelnemer", "unknown participant"),
                    ));
                }
            }
        }
        sqlx::query("ROLLBACK TO SAVEPOINT grant_group")
            .execute(&mut *w.tx)
            .await?;
        sqlx::query("RELEASE SAVEPOINT grant_group")
            .execute(&mut *w.tx)
            .await?;
    }
    report.errors.sort_by_key(|(l, _)| *l);
    if report.errors.is_empty() || valid_only {
        w.commit().await?;
        report.stored = true;
    }
    if !report.stored {
        report.granted = 0;
        report.messages = 0;
    }
    Ok(Ok(report))
}

impl Report {
    /// One line per problem: `FOUT/ERROR file:line: kolom/column "...": nl / en`.
    pub fn error_lines(&self, file: &Path) -> Vec<String> {
        self.errors
            .iter()
            .map(|(line, e)| {
                let column = e
                    .column
                    .map(|c| {
                        let h = self.headers.get(c).map_or(c, String::as_str);
                        format!("kolom/column {h:?}: ")
                    })
                    .unwrap_or_default();
                format!(
                    "FOUT/ERROR {}:{line}: {column}{} / {}",
                    file.display(),
                    e.nl,
                    e.en
                )
            })
            .collect()
    }

    pub fn summary(&self, file: &Path) -> String {
        let wrong: std::collections::BTreeSet<u64> = self.errors.iter().map(|(l, _)| *l).collect();
        let mut s = format!(
            "{}: {} regel(s)/row(s): {} toegewezen/granted in {} bericht(en)/message(s), {} fout/wrong",
            file.display(),
            self.rows,
            self.granted,
            self.messages,
            wrong.len()
        );
        if !self.stored {
            s.push_str(
                "; niets geïmporteerd (--valid-only importeert de goede cliënten) / nothing imported (--valid-only imports the good clients)",
            );
        }
        s
    }
}

/// `loket import allocations`: exit code 0 when every row was granted, 1
/// when rows were wrong, 2 when the file or the database could not be used.
pub fn run_command(
    config: &crate::config::Config,
    file: &Path,
    tenant: Option<&str>,
    valid_only: bool,
    max_bytes: usize,
) -> Result<ExitCode> {
    let bytes = read_file(file, max_bytes)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let store = config.open_store().await?;
        let id = crate::registration::csv::resolve_tenant(&store, tenant).await?;
        let tenant = Tenant {
            kind: TenantKind::from_id(&id)?,
            id,
        };
        if tenant.kind != TenantKind::Gemeente {
            bail!(
                "{} is geen gemeente: alleen een gemeente wijst toe / {} is not a municipality: only a municipality grants allocations",
                tenant.id,
                tenant.id
            );
        }
        let mappings = crate::mapping::TenantMappings::load(&config.mappings_dir)
            .with_context(|| format!("mappings in {}", config.mappings_dir.display()))?;
        import(
            &store,
            Schema::builtin()?,
            mappings.for_tenant(&tenant.id),
            &tenant,
            &bytes,
            valid_only,
            crate::registration::today(),
        )
        .await
    })?;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            println!("ONBRUIKBAAR/UNUSABLE {}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    if !report.ignored.is_empty() {
        println!(
            "let op/note: kolommen genegeerd / columns ignored: {}",
            report.ignored.join(", ")
        );
    }
    for line in report.error_lines(file) {
        println!("{line}");
    }
    println!("{}", report.summary(file));
    tracing::info!(
        rows = report.rows,
        granted = report.granted,
        messages = report.messages,
        wrong = report.errors.len(),
        stored = report.stored,
        "allocations imported"
    );
    Ok(ExitCode::from(if report.errors.is_empty() { 0 } else { 1 }))
}
