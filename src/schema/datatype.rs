//! Simple-type checking: the facets of the standard's logical datatypes (LDT_*).
//!
//! The iStandaarden only restrict four XSD base types (string, integer, date,
//! time) with a handful of facets. Checking them here, once, from the data in
//! `schemas/`, means every element of every message gets exactly the checks its
//! datatype asks for, with the same wording.

use chrono::NaiveDate;
use regex::Regex;
use serde::Deserialize;

/// The XSD base type a logical datatype restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    String,
    Integer,
    Date,
    Time,
}

/// A compiled datatype: base type plus facets.
#[derive(Debug, Clone)]
pub struct DataType {
    pub name: String,
    pub base: Base,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub pattern: Option<Pattern>,
    /// Enumerated values (a code list), sorted for binary search.
    pub codes: Option<Vec<String>>,
}

/// An XSD pattern facet, kept in its original spelling for messages and compiled
/// to an anchored Rust regex.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: Regex,
}

impl Pattern {
    /// Compiles an XSD regular expression. XSD patterns are implicitly anchored,
    /// `.` excludes both line ends and `\s` is only the four XML space characters,
    /// so those are translated rather than left to Rust's (Unicode) meaning.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        // The same few patterns recur in many datatypes of both standards;
        // compile each once (a Regex clone shares the compiled program).
        static COMPILED: std::sync::LazyLock<
            std::sync::Mutex<std::collections::HashMap<String, Regex>>,
        > = std::sync::LazyLock::new(Default::default);
        let mut cache = COMPILED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let regex = match cache.get(source) {
            Some(r) => r.clone(),
            None => {
                let r = Regex::new(&format!("^(?:{})$", translate_xsd_regex(source)))?;
                cache.insert(source.to_string(), r.clone());
                r
            }
        };
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

fn translate_xsd_regex(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 16);
    let mut in_class = false;
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('s') if in_class => out.push_str(" \\t\\n\\r"),
                Some('s') => out.push_str("[ \\t\\n\\r]"),
                Some('S') if !in_class => out.push_str("[^ \\t\\n\\r]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '.' if !in_class => out.push_str("[^\\n\\r]"),
            _ => out.push(c),
        }
    }
    out
}

/// Why a value does not fit its datatype. Rendered in Dutch and English by
/// [`Violation::describe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    NotInteger,
    NotDate,
    NotTime,
    TooShort { min: usize },
    TooLong { max: usize },
    BelowMin { min: i64 },
    AboveMax { max: i64 },
    Pattern { pattern: String },
    NotInCodeList { codes: usize },
    Fixed { expected: String },
}

impl Violation {
    /// Short rule tag used as the finding's rule id.
    pub fn rule(&self) -> &'static str {
        match self {
            Violation::NotInteger | Violation::NotDate | Violation::NotTime => "XSD-TYPE",
            Violation::TooShort { .. } | Violation::TooLong { .. } => "XSD-LENGTH",
            Violation::BelowMin { .. } | Violation::AboveMax { .. } => "XSD-RANGE",
            Violation::Pattern { .. } | Violation::Fixed { .. } => "XSD-PATTERN",
            Violation::NotInCodeList { .. } => "XSD-CODE",
        }
    }

    /// (Dutch, English) description for a person.
    pub fn describe(&self, element: &str, value: &str, datatype: &str) -> (String, String) {
        let v = shorten(value);
        match self {
            Violation::NotInteger => (
                format!("{element}: '{v}' is geen geheel getal ({datatype})."),
                format!("{element}: '{v}' is not an integer ({datatype})."),
            ),
            Violation::NotDate => (
                format!(
                    "{element}: '{v}' is geen bestaande datum in de vorm JJJJ-MM-DD zonder tijdzone."
                ),
                format!(
                    "{element}: '{v}' is not an existing date of the form YYYY-MM-DD without time zone."
                ),
            ),
            Violation::NotTime => (
                format!("{element}: '{v}' is geen tijd in de vorm uu:mm:ss zonder tijdzone."),
                format!("{element}: '{v}' is not a time of the form hh:mm:ss without time zone."),
            ),
            Violation::TooShort { min } => (
                format!("{element}: waarde is korter dan {min} teken(s) (leeg element?)."),
                format!("{element}: value is shorter than {min} character(s) (empty element?)."),
            ),
            Violation::TooLong { max } => (
                format!("{element}: '{v}' is langer dan {max} teken(s)."),
                format!("{element}: '{v}' is longer than {max} character(s)."),
            ),
            Violation::BelowMin { min } => (
                format!("{element}: {v} is kleiner dan {min}."),
                format!("{element}: {v} is less than {min}."),
            ),
            Violation::AboveMax { max } => (
                format!("{element}: {v} is groter dan {max}."),
                format!("{element}: {v} is greater than {max}."),
            ),
            Violation::Pattern { pattern } => (
                format!("{element}: '{v}' heeft niet het voorgeschreven formaat ({pattern})."),
                format!("{element}: '{v}' does not have the required format ({pattern})."),
            ),
            Violation::NotInCodeList { .. } => (
                format!("{element}: '{v}' komt niet voor in de codelijst van {datatype}."),
                format!("{element}: '{v}' is not in the code list of {datatype}."),
            ),
            Violation::Fixed { expected } => (
                format!("{element}: '{v}' moet '{expected}' zijn."),
                format!("{element}: '{v}' must be '{expected}'."),
            ),
        }
    }
}

/// Values from the wire can be long; a finding quotes at most 40 characters.
fn shorten(value: &str) -> String {
    if value.chars().count() <= 40 {
        value.to_string()
    } else {
        let mut s: String = value.chars().take(37).collect();
        s.push_str("...");
        s
    }
}

const XML_SPACE: &[char] = &[' ', '\t', '\n', '\r'];

impl DataType {
    /// Checks a lexical value as it stands in the XML text. Returns the first
    /// violation, in the order an XSD processor checks them (lexical form first).
    pub fn check(&self, raw: &str) -> Result<(), Violation> {
        let value = match self.base {
            // xs:string keeps white space; the other types collapse it.
            Base::String => raw,
            _ => raw.trim_matches(XML_SPACE),
        };
        match self.base {
            Base::String => {
                let len = value.chars().count();
                if let Some(min) = self.min_length
                    && len < min
                {
                    return Err(Violation::TooShort { min });
                }
                if let Some(max) = self.max_length
                    && len > max
                {
                    return Err(Violation::TooLong { max });
                }
            }
            Base::Integer => {
                let n = parse_integer(value).ok_or(Violation::NotInteger)?;
                if let Some(min) = self.min
                    && n < i128::from(min)
                {
                    return Err(Violation::BelowMin { min });
                }
                if let Some(max) = self.max
                    && n > i128::from(max)
                {
                    return Err(Violation::AboveMax { max });
                }
            }
            Base::Date => {
                parse_xsd_date(value).ok_or(Violation::NotDate)?;
            }
            Base::Time => {
                if !is_xsd_time(value) {
                    return Err(Violation::NotTime);
                }
            }
        }
        if let Some(p) = &self.pattern
            && !p.is_match(value)
        {
            return Err(match self.base {
                Base::Date => Violation::NotDate,
                Base::Time => Violation::NotTime,
                _ => Violation::Pattern {
                    pattern: p.source.clone(),
                },
            });
        }
        if let Some(codes) = &self.codes
            && codes.binary_search_by(|c| c.as_str().cmp(value)).is_err()
        {
            return Err(Violation::NotInCodeList { codes: codes.len() });
        }
        Ok(())
    }

    /// The value as the XSD processor compares it: collapsed for non-strings.
    pub fn normalize<'a>(&self, raw: &'a str) -> &'a str {
        match self.base {
            Base::String => raw,
            _ => raw.trim_matches(XML_SPACE),
        }
    }
}

/// xs:integer lexical space: optional sign and at least one digit. Values that
/// do not fit in an i128 saturate, which is far beyond any facet of the standard.
pub fn parse_integer(value: &str) -> Option<i128> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let negative = value.starts_with('-');
    Some(match digits.parse::<i128>() {
        Ok(n) if negative => -n,
        Ok(n) => n,
        Err(_) if negative => i128::MIN,
        Err(_) => i128::MAX,
    })
}

/// xs:date without time zone (the standard forbids one): a real calendar date.
pub fn parse_xsd_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &[u8]| -> Option<u32> {
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    let year = num(&b[0..4])?;
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, num(&b[5..7])?, num(&b[8..10])?)
}

/// xs:time without time zone: hh:mm:ss with optional fraction; 24:00:00 allowed.
pub fn is_xsd_time(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let two = |i: usize| -> Option<u32> {
        (b[i].is_ascii_digit() && b[i + 1].is_ascii_digit())
            .then(|| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0'))
    };
    let (Some(h), Some(m), Some(s)) = (two(0), two(3), two(6)) else {
        return false;
    };
    let frac = &b[8..];
    let frac_ok = frac.is_empty()
        || (frac.len() > 1 && frac[0] == b'.' && frac[1..].iter().all(u8::is_ascii_digit));
    if !frac_ok {
        return false;
    }
    let frac_zero = frac.iter().skip(1).all(|&d| d == b'0');
    (h < 24 && m < 60 && s < 60) || (h == 24 && m == 0 && s == 0 && frac_zero)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(base: Base) -> DataType {
        DataType {
            name: "T".into(),
            base,
            min_length: None,
            max_length: None,
            min: None,
            max: None,
            pattern: None,
            codes: None,
        }
    }

    #[test]
    fn dates_must_exist() {
        assert!(parse_xsd_date("2024-02-29").is_some());
        assert!(parse_xsd_date("2023-02-29").is_none());
        assert!(parse_xsd_date("2023-13-01").is_none());
        assert!(parse_xsd_date("0000-01-01").is_none());
        assert!(parse_xsd_date("2023-1-01").is_none());
        let mut d = dt(Base::Date);
        d.pattern = Some(Pattern::new("[^:Z]*").unwrap());
        assert_eq!(d.check("2023-01-01Z"), Err(Violation::NotDate));
        assert_eq!(d.check(" 2023-01-01\n"), Ok(()));
    }

    #[test]
    fn times() {
        assert!(is_xsd_time("12:34:56"));
        assert!(is_xsd_time("12:34:56.123"));
        assert!(is_xsd_time("24:00:00"));
        assert!(!is_xsd_time("24:00:01"));
        assert!(!is_xsd_time("12:60:00"));
        assert!(!is_xsd_time("12:00:00."));
    }

    #[test]
    fn integers_and_ranges() {
        let mut d = dt(Base::Integer);
        d.min = Some(0);
        d.max = Some(99);
        assert_eq!(d.check("099"), Ok(()));
        assert_eq!(d.check("+5"), Ok(()));
        assert_eq!(d.check("100"), Err(Violation::AboveMax { max: 99 }));
        assert_eq!(d.check("-1"), Err(Violation::BelowMin { min: 0 }));
        assert_eq!(d.check("1.0"), Err(Violation::NotInteger));
        assert_eq!(d.check(""), Err(Violation::NotInteger));
        assert_eq!(
            d.check("99999999999999999999999999999999999999999999"),
            Err(Violation::AboveMax { max: 99 })
        );
    }

    #[test]
    fn xsd_regex_semantics() {
        let p = Pattern::new(".*[^\\s].*").unwrap();
        assert!(p.is_match(" a "));
        assert!(!p.is_match("   "));
        assert!(!p.is_match("a\rb"), "XSD '.' excludes carriage return");
        let p = Pattern::new("([.\\s]*\\S+[.\\s]*)+").unwrap();
        assert!(p.is_match("Toelichting bij de toewijzing"));
        assert!(!p.is_match(" \n "));
        let p = Pattern::new("[0-9]{9}").unwrap();
        assert!(!p.is_match("1234567890"), "patterns are anchored");
    }

    #[test]
    fn strings_keep_white_space() {
        let mut d = dt(Base::String);
        d.max_length = Some(2);
        assert_eq!(d.check(" ab"), Err(Violation::TooLong { max: 2 }));
        d.codes = Some(vec!["01".into(), "02".into()]);
        assert_eq!(d.check("02"), Ok(()));
        assert_eq!(d.check("03"), Err(Violation::NotInCodeList { codes: 2 }));
    }
}
