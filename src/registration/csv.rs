//! `loket import registrations FILE`: daily registrations from CSV as
//! spreadsheets export it.
//!
//! - `;`, `,` or tab separated (detected from the header row), quoted cells
//!   as usual; UTF-8 with or without BOM (other encodings are refused with
//!   the hint to save as "CSV UTF-8");
//! - a header row with Dutch column names (`bsn`, `datum`, `aanwezig`,
//!   `reden`, `van`, `tot`, `uren`, `dagdelen`, `activiteit`, `toewijzing`,
//!   ...) or English ones; unknown columns (a name, a remark) are ignored;
//! - dates as dd-mm-jjjj (also d-m-jjjj, with `/` or `.`) or jjjj-mm-dd;
//!   decimals with a comma or a point; times as 9:00, 09:00, 9.00 or
//!   09:00:00; hours also as h:mm; a BSN that lost its leading zero in the
//!   spreadsheet (8 digits) gets it back.
//!
//! Every row becomes a [`RegistrationInput`] and goes through the same
//! [`register`](super::register) as `POST /registrations`. A file with a bad
//! row imports nothing unless `--valid-only` is given. Bad rows are reported
//! with file, line and reason in Dutch and English, never with a BSN.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use sqlx::Row as _;

use super::{
    Item, ItemError, ItemOutcome, Mode, Outcome, Reason, RegistrationInput, format_hhmm, register,
    shown,
};
use crate::mapping::Mappings;
use crate::store::Store;

/// An input field, as [`RegistrationInput`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    ParticipantId,
    Bsn,
    Date,
    Present,
    Reason,
    From,
    To,
    Hours,
    Dagdelen,
    Activity,
    Allocation,
    RegisteredBy,
}

/// Accepted column names per field, normalised (lower case, letters and
/// digits only: "Reden afwezigheid" is `redenafwezigheid`).
const COLUMNS: &[(Field, &str, &[&str])] = &[
    (
        Field::ParticipantId,
        "participant_id",
        &["deelnemerid", "participantid", "loketid"],
    ),
    (Field::Bsn, "bsn", &["bsn", "burgerservicenummer"]),
    (Field::Date, "date", &["datum", "date", "dag", "day"]),
    (
        Field::Present,
        "present",
        &[
            "aanwezig",
            "aanwezigheid",
            "present",
            "attendance",
            "presence",
        ],
    ),
    (
        Field::Reason,
        "reason",
        &[
            "reden",
            "redenafwezigheid",
            "redenafwezig",
            "afwezigheidsreden",
            "reason",
            "absencereason",
        ],
    ),
    (
        Field::From,
        "from",
        &[
            "van",
            "vanaf",
            "begintijd",
            "starttijd",
            "from",
            "start",
            "starttime",
        ],
    ),
    (
        Field::To,
        "to",
        &[
            "tot", "tm", "totenmet", "eindtijd", "to", "until", "end", "endtime",
        ],
    ),
    (
        Field::Hours,
        "hours",
        &["uren", "uur", "aantaluren", "hours"],
    ),
    (
        Field::Dagdelen,
        "dagdelen",
        &[
            "dagdelen",
            "dagdeel",
            "aantaldagdelen",
            "dayparts",
            "halfdays",
        ],
    ),
    (
        Field::Activity,
        "activity",
        &[
            "activiteit",
            "werkplaats",
            "werkplek",
            "activity",
            "workplace",
        ],
    ),
    (
        Field::Allocation,
        "allocation",
        &[
            "toewijzing",
            "toewijzingnummer",
            "toewijzingsnummer",
            "allocation",
            "allocationid",
        ],
    ),
    (
        Field::RegisteredBy,
        "registered_by",
        &[
            "geregistreerddoor",
            "medewerker",
            "begeleider",
            "registeredby",
        ],
    ),
];

impl Field {
    fn name(self) -> &'static str {
        COLUMNS
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("", |(_, n, _)| n)
    }

    fn of_header(header: &str) -> Option<Field> {
        let norm = normalise(header);
        COLUMNS
            .iter()
            .find(|(_, _, names)| names.contains(&norm.as_str()))
            .map(|(f, _, _)| *f)
    }
}

/// Lower case, letters and digits only.
pub(crate) fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A file that cannot be imported at all.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub nl: String,
    pub en: String,
}

impl FileError {
    pub(crate) fn new(nl: impl Into<String>, en: impl Into<String>) -> Self {
        FileError {
            nl: nl.into(),
            en: en.into(),
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.nl, self.en)
    }
}

impl std::error::Error for FileError {}

/// One data row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Line in the file (1 is the header).
    pub line: u64,
    pub input: Result<RegistrationInput, Vec<ItemError>>,
}

/// A parsed file: the header and every non-empty data row.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub separator: u8,
    /// Column index and header text per recognised field.
    columns: HashMap<Field, (usize, String)>,
    /// Headers that were not recognised (left alone).
    pub ignored: Vec<String>,
    pub rows: Vec<Row>,
}

impl Parsed {
    /// The column header (as written in the file) of an input field.
    pub fn header_for(&self, field: &str) -> Option<&str> {
        let f = COLUMNS.iter().find(|(_, n, _)| *n == field)?.0;
        let f = match f {
            Field::ParticipantId if !self.columns.contains_key(&f) => Field::Bsn,
            f => f,
        };
        self.columns.get(&f).map(|(_, h)| h.as_str())
    }
}

/// The separator of a header line: the most frequent of `;`, `,` and tab
/// outside quotes (`;` on a tie, as Dutch spreadsheets write it).
pub fn detect_separator(header: &str) -> u8 {
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(c) = counts.iter_mut().find(|(s, _)| *s == b) {
            c.1 += 1;
        }
    }
    let best = counts.iter().max_by_key(|(_, n)| *n).map_or(0, |c| c.1);
    counts
        .iter()
        .find(|(_, n)| *n == best && best > 0)
        .map_or(b',', |(s, _)| *s)
}

/// A date as dd-mm-jjjj (also d-m-jjjj, with `-`, `/` or `.`) or jjjj-mm-dd;
/// a time of 00:00 after it (as some exports add) is allowed.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let s = [" 00:00:00", "T00:00:00", " 00:00", " 0:00:00", " 0:00"]
        .iter()
        .find_map(|t| s.strip_suffix(t))
        .unwrap_or(s);
    let sep = s.chars().find(|c| !c.is_ascii_digit())?;
    if !matches!(sep, '-' | '/' | '.') {
        return None;
    }
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let num = |p: &str| p.parse::<u32>().ok();
    match (parts[0].len(), parts[1].len(), parts[2].len()) {
        (4, 1..=2, 1..=2) if sep == '-' => NaiveDate::from_ymd_opt(
            i32::try_from(num(parts[0])?).ok()?,
            num(parts[1])?,
            num(parts[2])?,
        ),
        (1..=2, 1..=2, 4) => NaiveDate::from_ymd_opt(
            i32::try_from(num(parts[2])?).ok()?,
            num(parts[1])?,
            num(parts[0])?,
        ),
        _ => None,
    }
}

/// A decimal number with a comma or a point ("5,5", "5.5", "5").
pub fn parse_decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    let (int, frac) = match (s.matches(',').count(), s.matches('.').count()) {
        (0, 0) => (s, ""),
        (1, 0) => s.split_once(',')?,
        (0, 1) => s.split_once('.')?,
        _ => return None,
    };
    let int = int.strip_prefix('-').map_or(int, |i| i);
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.replace(',', ".").parse().ok()
}

/// Hours as a decimal ("5,5") or as h:mm ("5:30").
pub fn parse_hours(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some((h, m)) = s.split_once(':') {
        if h.is_empty() || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        return (m < 60).then(|| f64::from(h) + f64::from(m) / 60.0);
    }
    parse_decimal(s)
}

/// A time of day as 9:00, 09:00, 9.00 or 09:00:00 (24:00 for midnight at
/// the end), as minutes since midnight.
pub fn parse_time(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_suffix(":00")
        .filter(|r| r.contains(':'))
        .unwrap_or(s);
    let (h, m) = s.split_once(':').or_else(|| s.split_once('.'))?;
    if !(1..=2).contains(&h.len())
        || m.len() != 2
        || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (0..=23, 0..=59) | (24, 0) => Some(h * 60 + m),
        _ => None,
    }
}

/// Present or not: ja/nee, j/n, yes/no, 1/0, x, waar/onwaar, true/false,
/// aanwezig/afwezig.
pub fn parse_present(s: &str) -> Option<bool> {
    match normalise(s).as_str() {
        "ja" | "j" | "yes" | "y" | "1" | "x" | "waar" | "true" | "aanwezig" | "present" => {
            Some(true)
        }
        "nee" | "n" | "no" | "0" | "onwaar" | "false" | "afwezig" | "absent" => Some(false),
        _ => None,
    }
}

/// The reason of an absence, in Dutch or English.
pub fn parse_reason(s: &str) -> Option<Reason> {
    match normalise(s).as_str() {
        "ziek" | "ziekte" | "ziekmelding" | "sick" | "ill" => Some(Reason::Sick),
        "vakantie" | "verlof" | "vrij" | "holiday" | "vacation" | "leave" => Some(Reason::Holiday),
        "noshow"
        | "nietverschenen"
        | "nietgekomen"
        | "zonderbericht"
        | "afwezigzonderbericht"
        | "ongeoorloofd" => Some(Reason::NoShow),
        "anders" | "overig" | "overige" | "anderereden" | "other" => Some(Reason::Other),
        _ => None,
    }
}

/// A BSN cell: spaces and dots removed; 8 digits get their leading zero back.
pub(crate) fn bsn_cell(s: &str) -> String {
    let b: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect();
    if b.len() == 8 && b.bytes().all(|c| c.is_ascii_digit()) {
        format!("0{b}")
    } else {
        b
    }
}

/// Parses a whole file (its bytes): the header, then every non-empty row
/// into a [`RegistrationInput`] or the reasons it could not be read.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FileError> {
    let Opened {
        text,
        separator,
        mut reader,
        headers,
    } = open(bytes)?;
    let mut columns: HashMap<Field, (usize, String)> = HashMap::new();
    let mut ignored = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        match Field::of_header(h) {
            Some(f) => {
                if let Some((_, first)) = columns.get(&f) {
                    return Err(FileError::new(
                        format!(
                            "de kolommen {first:?} en {h:?} betekenen allebei {}; laat er één staan",
                            f.name()
                        ),
                        format!(
                            "the columns {first:?} and {h:?} both mean {}; keep one",
                            f.name()
                        ),
                    ));
                }
                columns.insert(f, (i, h.trim().to_string()));
            }
            None if h.trim().is_empty() => {}
            None => ignored.push(h.trim().to_string()),
        }
    }
    let names = |f: Field| {
        COLUMNS
            .iter()
            .find(|(g, _, _)| *g == f)
            .map_or(String::new(), |(_, _, n)| n.join(", "))
    };
    if !columns.contains_key(&Field::Date) {
        return Err(FileError::new(
            format!(
                "kolom met de datum ontbreekt in de kopregel (scheidingsteken {:?}); namen: {}",
                char::from(separator),
                names(Field::Date)
            ),
            format!(
                "no date column in the header row (separator {:?}); names: {}",
                char::from(separator),
                names(Field::Date)
            ),
        ));
    }
    if !columns.contains_key(&Field::Bsn) && !columns.contains_key(&Field::ParticipantId) {
        return Err(FileError::new(
            format!(
                "kolom bsn of deelnemer_id ontbreekt in de kopregel (scheidingsteken {:?})",
                char::from(separator)
            ),
            format!(
                "no bsn or participant_id column in the header row (separator {:?})",
                char::from(separator)
            ),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| line_at(text, p.byte()));
            FileError::new(
                format!("regel {line} is onleesbaar: {e}"),
                format!("line {line} is unreadable: {e}"),
            )
        })?;
        // Counted from the byte offset: the reader's own line count does
        // not survive every line-ending style.
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let input = row_input(&record, &columns, headers.len());
        rows.push(Row { line, input });
    }
    Ok(Parsed {
        separator,
        columns,
        ignored,
        rows,
    })
}

/// A CSV file opened as spreadsheets export it: BOM stripped, UTF-8 checked,
/// separator detected from the header row, the header read. Shared by every
/// `loket import`.
pub(crate) struct Opened<'a> {
    pub text: &'a str,
    pub separator: u8,
    pub reader: ::csv::Reader<&'a [u8]>,
    pub headers: ::csv::StringRecord,
}

pub(crate) fn open(bytes: &[u8]) -> Result<Opened<'_>, FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        FileError::new(
            format!("het bestand is geen UTF-8 (regel {line}); sla het op als \"CSV UTF-8\""),
            format!("the file is not UTF-8 (line {line}); save it as \"CSV UTF-8\""),
        )
    })?;
    let header_line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| FileError::new("het bestand is leeg", "the file is empty"))?;
    let separator = detect_separator(header_line);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            FileError::new(
                format!("kopregel onleesbaar: {e}"),
                format!("header row unreadable: {e}"),
            )
        })?
        .clone();
    Ok(Opened {
        text,
        separator,
        reader,
        headers,
    })
}

/// The bytes of an import file, refused above `max_bytes`.
pub(crate) fn read_file(file: &Path, max_bytes: usize) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if meta.len() > max_bytes as u64 {
        bail!(
            "{}: het bestand is groter dan {max_bytes} bytes / the file is larger than {max_bytes} bytes (--max-bytes)",
            file.display()
        );
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// The line (from 1) of a byte offset in `text`.
pub(crate) fn line_at(text: &str, byte: u64) -> u64 {
    let b = text.as_bytes();
    let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(b.len());
    // After a CR the reader reports the LF that ends the previous line.
    while end < b.len() && matches!(b[end], b'\r' | b'\n') {
        end += 1;
    }
    b[..end].iter().filter(|b| **b == b'\n').count() as u64 + 1
}

/// One data row as a [`RegistrationInput`].
fn row_input(
    record: &::csv::StringRecord,
    columns: &HashMap<Field, (usize, String)>,
    width: usize,
) -> Result<RegistrationInput, Vec<ItemError>> {
    let cell = |f: Field| {
        columns
            .get(&f)
            .and_then(|(i, _)| record.get(*i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let mut errors = Vec::new();
    if record.len() > width {
        errors.push(ItemError::invalid(
            None,
            "de regel heeft meer cellen dan de kopregel kolommen (een decimaalkomma of scheidingsteken in een cel zonder aanhalingstekens?)",
            "the row has more cells than the header has columns (a decimal comma or separator in an unquoted cell?)",
        ));
    }
    let mut bad = |f: Field, nl: String, en: String| {
        errors.push(ItemError::invalid(Some(f.name()), nl, en));
    };
    let mut input = RegistrationInput {
        participant_id: cell(Field::ParticipantId).map(str::to_string),
        bsn: cell(Field::Bsn).map(bsn_cell),
        activity: cell(Field::Activity).map(str::to_string),
        allocation: cell(Field::Allocation).map(str::to_string),
        registered_by: cell(Field::RegisteredBy).map(str::to_string),
        ..RegistrationInput::default()
    };
    match cell(Field::Date) {
        None => bad(
            Field::Date,
            "de datum ontbreekt".into(),
            "the date is missing".into(),
        ),
        Some(d) => match parse_date(d) {
            Some(d) => input.date = d.to_string(),
            None => bad(
                Field::Date,
                format!("{}geen datum (dd-mm-jjjj of jjjj-mm-dd)", shown(d)),
                format!("{}not a date (dd-mm-yyyy or yyyy-mm-dd)", shown(d)),
            ),
        },
    }
    let mut reason = None;
    if let Some(r) = cell(Field::Reason) {
        match parse_reason(r) {
            Some(r) => reason = Some(r),
            None => bad(
                Field::Reason,
                format!(
                    "{}onbekende reden: ziek, vakantie, no-show of anders",
                    shown(r)
                ),
                format!(
                    "{}unknown reason: sick, holiday, no-show or other",
                    shown(r)
                ),
            ),
        }
    }
    input.present = match cell(Field::Present) {
        // Without the column or a value: absent when a reason is given.
        None => reason.is_none() && cell(Field::Reason).is_none(),
        Some(p) => match (parse_present(p), parse_reason(p)) {
            (Some(p), _) => p,
            // "ziek" in the aanwezig column: absent with that reason.
            (None, Some(r)) if reason.is_none_or(|x| x == r) => {
                reason = Some(r);
                false
            }
            _ => {
                bad(
                    Field::Present,
                    format!("{}geen ja of nee", shown(p)),
                    format!("{}not yes or no", shown(p)),
                );
                true
            }
        },
    };
    input.reason = reason.map(|r| r.as_str().to_string());
    for (f, slot) in [(Field::From, &mut input.from), (Field::To, &mut input.to)] {
        if let Some(t) = cell(f) {
            match parse_time(t) {
                Some(m) => *slot = Some(format_hhmm(m)),
                None => bad(
                    f,
                    format!("{}geen tijd (uu:mm)", shown(t)),
                    format!("{}not a time (hh:mm)", shown(t)),
                ),
            }
        }
    }
    if let Some(h) = cell(Field::Hours) {
        match parse_hours(h) {
            Some(h) => input.hours = Some(h),
            None => bad(
                Field::Hours,
                format!("{}geen aantal uren (5,5 of 5:30)", shown(h)),
                format!("{}not a number of hours (5.5 or 5:30)", shown(h)),
            ),
        }
    }
    if let Some(d) = cell(Field::Dagdelen) {
        match parse_decimal(d).filter(|x| x.fract() == 0.0 && x.abs() < 1e6) {
            #[allow(clippy::cast_possible_truncation)]
            Some(x) => input.dagdelen = Some(x as i64),
            None => bad(
                Field::Dagdelen,
                format!("{}geen heel aantal dagdelen", shown(d)),
                format!("{}not a whole number of dagdelen", shown(d)),
            ),
        }
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub parsed: Parsed,
    pub outcome: Outcome,
    /// Rows whose activity no contract knows, as (line, activity): a
    /// warning, not an error. The person was there and the day is kept
    /// (refusing it would lose the attendance), but the day counts for no
    /// declaration until the activity is corrected or contracted. Filled
    /// by the command, which has the contracts.
    pub unknown_activities: Vec<(u64, String)>,
}

/// Imports the registrations in `bytes` (the contents of `file`) for
/// `tenant`. Rows become items labelled `file:line`.
pub async fn import(
    store: &Store,
    tenant: &str,
    file: &Path,
    bytes: &[u8],
    registered_by: &str,
    mode: Mode,
    today: NaiveDate,
) -> Result<ImportReport, ImportError> {
    let parsed = parse(bytes).map_err(ImportError::File)?;
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let items: Vec<Item> = parsed
        .rows
        .iter()
        .map(|r| Item {
            input: r.input.clone(),
            source: format!("import:{name}:{}", r.line),
            label: format!("{}:{}", file.display(), r.line),
        })
        .collect();
    let outcome = register(store, tenant, items, registered_by, mode, today, None, None)
        .await
        .map_err(ImportError::Store)?;
    Ok(ImportReport {
        parsed,
        outcome,
        unknown_activities: Vec::new(),
    })
}

/// The readable rows whose activity no contract knows
/// ([`Mappings::knows_activity`], the test the declaration run applies).
/// Without any contract there is nothing to compare with.
fn unknown_activities(parsed: &Parsed, mappings: &Mappings) -> Vec<(u64, String)> {
    if mappings.is_empty() {
        return Vec::new();
    }
    parsed
        .rows
        .iter()
        .filter_map(|r| {
            let input = r.input.as_ref().ok()?;
            let activity = input.activity.as_deref()?;
            (input.present && !mappings.knows_activity(activity))
                .then(|| (r.line, activity.to_string()))
        })
        .collect()
}

/// Why an import did not run.
#[derive(Debug)]
pub enum ImportError {
    File(FileError),
    Store(anyhow::Error),
}

impl ImportReport {
    /// One line per error: `FOUT/ERROR file:line: column: nl / en`.
    pub fn error_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.outcome.results {
            let ItemOutcome::Failed(errors) = &r.outcome else {
                continue;
            };
            for e in errors {
                let column = e
                    .field
                    .and_then(|f| self.parsed.header_for(f))
                    .map(|h| format!("kolom/column {h:?}: "))
                    .unwrap_or_default();
                out.push(format!(
                    "FOUT/ERROR {}: {column}{} / {}",
                    r.label, e.nl, e.en
                ));
            }
        }
        out
    }

    /// One line per row with an unknown activity: `LET OP/WARNING
    /// file:line: column: nl / en`. The row was imported.
    pub fn warning_lines(&self, file: &Path) -> Vec<String> {
        let column = self
            .parsed
            .header_for(Field::Activity.name())
            .map(|h| format!("kolom/column {h:?}: "))
            .unwrap_or_default();
        self.unknown_activities
            .iter()
            .map(|(line, activity)| {
                // An activity is a workplace, not a person: shown, cut short.
                let a: String = activity.chars().take(40).collect();
                format!(
                    "LET OP/WARNING {}:{line}: {column}activiteit {a:?}: geen contract kent deze activiteit; de regel is geïmporteerd maar telt voor geen declaratie / activity {a:?}: no contract knows this activity; the row was imported but counts for no declaration",
                    file.display(),
                )
            })
            .collect()
    }

    /// The closing summary.
    pub fn summary(&self, file: &Path) -> String {
        let c = self.outcome.counts();
        let wrong = c.invalid + c.not_found;
        let mut s = format!(
            "{}: {} regel(s)/row(s): {} nieuw/created, {} gecorrigeerd/corrected, {} ongewijzigd/unchanged, {} fout/wrong",
            file.display(),
            c.received,
            c.created,
            c.corrected,
            c.unchanged,
            wrong
        );
        if !self.outcome.stored {
            s.push_str(
                "; niets geïmporteerd (--valid-only importeert de goede regels) / nothing imported (--valid-only imports the valid rows)",
            );
        } else if wrong > 0 {
            s.push_str("; de foute regels zijn overgeslagen / the wrong rows were skipped");
        }
        s
    }
}

/// The tenant to import for: the one given, or the only one there is.
pub(crate) async fn resolve_tenant(store: &Store, tenant: Option<&str>) -> Result<String> {
    let rows = sqlx::query("SELECT id FROM tenants ORDER BY id")
        .fetch_all(store.pool())
        .await?;
    let ids = rows
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    match tenant {
        Some(t) if ids.iter().any(|i| i == t) => Ok(t.to_string()),
        Some(t) => bail!(
            "tenant {t} bestaat niet (loket tenant add {t}) / tenant {t} does not exist (loket tenant add {t})"
        ),
        None => match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => bail!(
                "er is nog geen tenant (loket tenant add ID) / there is no tenant yet (loket tenant add ID)"
            ),
            _ => bail!(
                "er zijn meerdere tenants; kies er een met --tenant / there are several tenants; choose one with --tenant"
            ),
        },
    }
}

/// `loket import registrations`: exit code 0 when every row was imported,
/// 1 when rows were wrong (nothing imported, or with `--valid-only` the
/// valid ones), 2 when the file or the database could not be used.
pub fn run_command(
    config: &crate::config::Config,
    file: &Path,
    tenant: Option<&str>,
    valid_only: bool,
    registered_by: Option<&str>,
    max_bytes: usize,
) -> Result<ExitCode> {
    let bytes = read_file(file, max_bytes)?;
    let registered_by = registered_by
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "import".to_string());
    let mode = if valid_only {
        Mode::ValidOnly
    } else {
        Mode::AllOrNothing
    };
    // The contracts, to warn about activities none of them knows.
    let mappings = crate::mapping::TenantMappings::load(&config.mappings_dir)
        .with_context(|| format!("mappings in {}", config.mappings_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let store = config.open_store().await?;
        let tenant = resolve_tenant(&store, tenant).await?;
        match import(
            &store,
            &tenant,
            file,
            &bytes,
            &registered_by,
            mode,
            super::today(),
        )
        .await
        {
            Ok(mut r) => {
                r.unknown_activities = unknown_activities(&r.parsed, mappings.for_tenant(&tenant));
                Ok(Ok(r))
            }
            Err(ImportError::File(e)) => Ok(Err(e)),
            Err(ImportError::Store(e)) => Err(e),
        }
    })?;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            println!("ONBRUIKBAAR/UNUSABLE {}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    if !report.parsed.ignored.is_empty() {
        println!(
            "let op/note: kolommen genegeerd / columns ignored: {}",
            report.parsed.ignored.join(", ")
        );
    }
    for line in report.error_lines() {
        println!("{line}");
    }
    for line in report.warning_lines(file) {
        println!("{line}");
    }
    println!("{}", report.summary(file));
    let c = report.outcome.counts();
    tracing::info!(
        rows = c.received,
        created = c.created,
        corrected = c.corrected,
        unchanged = c.unchanged,
        wrong = c.invalid + c.not_found,
        stored = report.outcome.stored,
        "registrations imported"
    );
    Ok(ExitCode::from(if report.outcome.has_errors() {
        1
    } else {
        0
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn dates() {
        for (text, iso) in [
            ("03-03-2025", "2025-03-03"),
            ("3-3-2025", "2025-03-03"),
            ("03/03/2025", "2025-03-03"),
            ("31.12.2024", "2024-12-31"),
            ("2025-03-03", "2025-03-03"),
            ("2025-3-3", "2025-03-03"),
            (" 2025-03-03 00:00:00 ", "2025-03-03"),
            ("2025-03-03T00:00:00", "2025-03-03"),
            ("03-03-2025 0:00", "2025-03-03"),
        ] {
            assert_eq!(parse_date(text), Some(d(iso)), "{text}");
        }
        for bad in [
            "",
            "2025",
            "03-03-25",
            "30-02-2025",
            "2025/03/03",
            "03-03/2025",
            "3 maart 2025",
            "2025-03-03 12:00",
            "45719",
            "13-13-2025",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn decimals_and_hours() {
        assert_eq!(parse_decimal("5,5"), Some(5.5));
        assert_eq!(parse_decimal("5.5"), Some(5.5));
        assert_eq!(parse_decimal(" 7 "), Some(7.0));
        assert_eq!(parse_decimal("0,25"), Some(0.25));
        assert_eq!(parse_decimal(",5"), Some(0.5));
        assert_eq!(parse_decimal("-1"), Some(-1.0));
        for bad in [
            "", "1.234,5", "5,5,5", "abc", "5 uur", "inf", "NaN", "1e3", ",",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        assert_eq!(parse_hours("5:30"), Some(5.5));
        assert_eq!(parse_hours("0:45"), Some(0.75));
        assert_eq!(parse_hours("6,25"), Some(6.25));
        assert_eq!(parse_hours("5:75"), None);
        assert_eq!(parse_hours("5:3"), None);
    }

    #[test]
    fn unknown_activities_are_reported_per_row() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let mappings = Mappings::load_dir(&shipped).expect("shipped mappings");
        let csv = "bsn;datum;uren;activiteit\n\
                   123456782;02-11-2026;5,5;Kas\n\
                   123456782;03-11-2026;5,5;kass\n\
                   123456782;04-11-2026;ziek;\n\
                   123456782;05-11-2026;4;\n";
        let parsed = parse(csv.as_bytes()).expect("parsed");
        // "Kas" is known (case does not matter), "kass" is not; an empty
        // activity is not an unknown one.
        let unknown = unknown_activities(&parsed, &mappings);
        assert_eq!(unknown, vec![(3, "kass".to_string())]);
        let report = ImportReport {
            parsed,
            outcome: Outcome {
                stored: true,
                results: Vec::new(),
            },
            unknown_activities: unknown,
        };
        let lines = report.warning_lines(Path::new("week.csv"));
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("LET OP/WARNING week.csv:3: kolom/column \"activiteit\": activiteit \"kass\": geen contract kent deze activiteit; de regel is geïmporteerd"),
            "{}",
            lines[0]
        );
        // Without contracts there is nothing to compare with.
        let parsed = parse(csv.as_bytes()).expect("parsed");
        assert!(unknown_activities(&parsed, &Mappings::default()).is_empty());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("9:00"), Some(540));
        assert_eq!(parse_time("09:00"), Some(540));
        assert_eq!(parse_time("9.15"), Some(555));
        assert_eq!(parse_time("09:30:00"), Some(570));
        assert_eq!(parse_time("24:00"), Some(1440));
        for bad in ["", "9", "900", "25:00", "9:5", "9:00:30", "24:30", "9h00"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn presence_and_reasons() {
        for yes in ["ja", "J", "Yes", "1", "x", "Aanwezig", "TRUE"] {
            assert_eq!(parse_present(yes), Some(true), "{yes}");
        }
        for no in ["nee", "N", "no", "0", "afwezig", "false"] {
            assert_eq!(parse_present(no), Some(false), "{no}");
        }
        assert_eq!(parse_present("misschien"), None);
        assert_eq!(parse_reason("Ziek"), Some(Reason::Sick));
        assert_eq!(parse_reason("vakantie"), Some(Reason::Holiday));
        assert_eq!(parse_reason("No-show"), Some(Reason::NoShow));
        assert_eq!(parse_reason("niet verschenen"), Some(Reason::NoShow));
        assert_eq!(parse_reason("no_show"), Some(Reason::NoShow));
        assert_eq!(parse_reason("Anders"), Some(Reason::Other));
        assert_eq!(parse_reason("weg"), None);
    }

    #[test]
    fn separators() {
        assert_eq!(detect_separator("bsn;datum;uren"), b';');
        assert_eq!(detect_separator("bsn,datum,uren"), b',');
        assert_eq!(detect_separator("bsn\tdatum\turen"), b'\t');
        assert_eq!(detect_separator("\"naam, voornaam\";bsn;datum"), b';');
        assert_eq!(detect_separator("\"a;b\",bsn,datum"), b',');
        assert_eq!(detect_separator("bsn"), b',');
    }

    fn inputs(p: &Parsed) -> Vec<RegistrationInput> {
        p.rows
            .iter()
            .map(|r| {
                r.input
                    .clone()
                    .unwrap_or_else(|e| panic!("line {}: {e:?}", r.line))
            })
            .collect()
    }

    #[test]
    fn semicolons_with_bom_and_decimal_commas() {
        let text = "\u{FEFF}BSN;Naam;Datum;Aanwezig;Reden;Van;Tot;Uren;Activiteit\r\n\
                    99990019;Jan;03-03-2025;ja;;9:00;15:30;6,5;Houtwerkplaats\r\n\
                    ;;;;;;;;\r\n\
                    999990020;Piet;4-3-2025;nee;ziek;;;0;\r\n";
        let p = parse(text.as_bytes()).expect("parsed");
        assert_eq!(p.separator, b';');
        assert_eq!(p.ignored, ["Naam"]);
        let rows = inputs(&p);
        assert_eq!(rows.len(), 2, "the empty row is skipped");
        assert_eq!(p.rows[0].line, 2);
        assert_eq!(p.rows[1].line, 4);
        let first = &rows[0];
        assert_eq!(first.bsn.as_deref(), Some("099990019"), "leading zero back");
        assert_eq!(first.date, "2025-03-03");
        assert!(first.present);
        assert_eq!(
            (first.from.as_deref(), first.to.as_deref()),
            (Some("09:00"), Some("15:30"))
        );
        assert_eq!(first.hours, Some(6.5));
        assert_eq!(first.activity.as_deref(), Some("Houtwerkplaats"));
        let second = &rows[1];
        assert!(!second.present);
        assert_eq!(second.reason.as_deref(), Some("sick"));
        assert_eq!(second.date, "2025-03-04");
        assert_eq!(p.header_for("to"), Some("Tot"));
    }

    #[test]
    fn commas_with_quoted_decimals_and_english_headers() {
        let text = "participant_id,date,present,hours,workplace,allocation\n\
                    p-1,2025-03-03,yes,\"5,5\",kas,300145\n\
                    p-1,2025-03-04,holiday,,,\n\
                    p-1,2025-03-05,yes,5,5,kas,\n";
        let p = parse(text.as_bytes()).expect("parsed");
        assert_eq!(p.separator, b',');
        assert_eq!(p.rows.len(), 3);
        let first = p.rows[0].input.as_ref().expect("row 2");
        assert_eq!(first.hours, Some(5.5));
        assert_eq!(first.participant_id.as_deref(), Some("p-1"));
        assert_eq!(first.allocation.as_deref(), Some("300145"));
        assert_eq!(first.activity.as_deref(), Some("kas"));
        let second = p.rows[1].input.as_ref().expect("row 3");
        assert!(!second.present, "a reason in the present column");
        assert_eq!(second.reason.as_deref(), Some("holiday"));
        // An unquoted decimal comma splits the row: reported, never misread.
        let third = p.rows[2].input.as_ref().expect_err("row 4");
        assert!(third[0].en.contains("more cells"), "{third:?}");
        assert_eq!(p.header_for("participant_id"), Some("participant_id"));
    }

    #[test]
    fn presence_is_inferred_and_cells_are_checked() {
        let text = "bsn;datum;reden;van;tot;dagdelen\n\
                    999990019;03-03-2025;;09:00;12:00;1\n\
                    999990019;04-03-2025;vakantie;;;\n\
                    999990019;05-03-2025;weg;9 uur;12:00;1,5\n\
                    999990019;31-02-2025;;;;\n";
        let p = parse(text.as_bytes()).expect("parsed");
        let a = p.rows[0].input.as_ref().expect("row 2");
        assert!(a.present && a.dagdelen == Some(1));
        let b = p.rows[1].input.as_ref().expect("row 3");
        assert!(!b.present && b.reason.as_deref() == Some("holiday"));
        let c = p.rows[2].input.as_ref().expect_err("row 4");
        let fields: Vec<_> = c.iter().filter_map(|e| e.field).collect();
        assert_eq!(fields, ["reason", "from", "dagdelen"]);
        let e = p.rows[3].input.as_ref().expect_err("row 5");
        assert_eq!(e[0].field, Some("date"));
        assert_eq!(p.header_for("participant_id"), Some("bsn"));
        assert_eq!(p.header_for("present"), None);
    }

    #[test]
    fn unusable_files() {
        let latin1 = b"bsn;datum;activiteit\n999990019;03-03-2025;caf\xe9\n";
        let e = parse(latin1).expect_err("not UTF-8");
        assert!(e.en.contains("line 2") && e.nl.contains("CSV UTF-8"), "{e}");
        assert!(parse(b"").is_err());
        assert!(parse("\u{FEFF}\n\n".as_bytes()).is_err());
        let e = parse(b"bsn;uren\n999990019;5\n").expect_err("no date");
        assert!(e.en.contains("no date column"), "{e}");
        let e = parse(b"naam;datum\nJan;03-03-2025\n").expect_err("no participant");
        assert!(e.en.contains("no bsn"), "{e}");
        let e = parse(b"bsn;datum;activiteit;werkplaats\n").expect_err("twice");
        assert!(e.en.contains("both mean activity"), "{e}");
        // A header only: nothing to import, but usable.
        assert!(parse(b"bsn;datum\n").expect("header only").rows.is_empty());
    }
}
