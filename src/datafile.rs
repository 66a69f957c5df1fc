//! TOML data files checked against a JSON Schema: the mappings
//! (`schemas/mappings/mapping.json`) and the instruments
//! (`schemas/instruments/instrument.json`). People edit these files by hand,
//! so every problem names the file, the JSON path and, where it can be
//! found, the line; both loaders share this one reading so that a mapping
//! and an instrument report a mistake the same way.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One problem in a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// JSON pointer into the file's content (`/products/1/tariffs/0/to`);
    /// empty for the file as a whole.
    pub path: String,
    /// Line in the file, where known.
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(file: &Path, path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_path_buf(),
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// "invalid mapping: <problem>", or every problem on its own line after
/// "invalid mappings (n problems):".
pub fn write_problems(f: &mut fmt::Formatter<'_>, what: &str, problems: &[Problem]) -> fmt::Result {
    match problems {
        [one] => write!(f, "invalid {what}: {one}"),
        many => {
            write!(f, "invalid {what}s ({} problems):", many.len())?;
            for p in many {
                write!(f, "\n  {p}")?;
            }
            Ok(())
        }
    }
}

/// A compiled JSON Schema with its source (the source explains a rule
/// inside an if/then by its description).
pub struct Schema {
    source: Value,
    validator: jsonschema::Validator,
}

impl Schema {
    /// Compiles a schema's text (the loaders keep it in a `LazyLock`).
    pub fn compile(text: &str) -> Result<Schema, String> {
        let source: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let validator = jsonschema::validator_for(&source).map_err(|e| e.to_string())?;
        Ok(Schema { source, validator })
    }

    /// The compiled schema, or the problem of a schema that does not compile
    /// (named by `name`, its path in the project).
    pub fn get<'a>(
        compiled: &'a Result<Schema, String>,
        name: &str,
    ) -> Result<&'a Schema, Problem> {
        compiled.as_ref().map_err(|e| {
            Problem::new(
                Path::new(name),
                "",
                format!("the schema does not compile: {e}"),
            )
        })
    }
}

/// Parses `text` as TOML and checks it against `schema`: the file's content
/// as JSON, or every problem with its line. Whole numbers only: no field of
/// these files takes a fraction (money is in cents, time in minutes, scores
/// are levels), and 50.00 meant as euros must not quietly become 50 cents.
pub fn check(file: &Path, text: &str, schema: &Schema) -> Result<Value, Vec<Problem>> {
    let lines = Lines::new(text);
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        vec![Problem {
            file: file.to_path_buf(),
            path: String::new(),
            line: e.span().map(|s| lines.line_of(s.start)),
            message: format!("not valid TOML: {}", e.message().trim()),
        }]
    })?;
    let table = toml::Value::Table(table);
    let mut floats = Vec::new();
    find_floats(&table, &mut String::new(), &mut floats);
    let json = toml_to_json(table);
    let schema_problems: Vec<Problem> = schema
        .validator
        .iter_errors(&json)
        .map(|e| {
            Problem::new(
                file,
                e.instance_path().to_string(),
                explain(&schema.source, &e),
            )
        })
        .filter(|p| !floats.contains(&p.path))
        .collect();
    let mut problems: Vec<Problem> = floats
        .into_iter()
        .map(|path| Problem::new(file, path, "a number with a fraction; write a whole number"))
        .collect();
    problems.extend(schema_problems);
    if problems.is_empty() {
        return Ok(json);
    }
    locate_lines(text, &mut problems);
    Err(problems)
}

/// Gives every problem without a line the line of the deepest part of its
/// path that exists in the file.
pub fn locate_lines(text: &str, problems: &mut [Problem]) {
    let lines = Lines::new(text);
    let spans = toml::de::DeTable::parse(text).ok();
    for p in problems {
        if p.line.is_none() {
            p.line = spans
                .as_ref()
                .and_then(|t| locate(t, &p.path))
                .map(|offset| lines.line_of(offset));
        }
    }
}

/// TOML to JSON for the schema. TOML dates and times become strings in
/// their TOML (RFC 3339) spelling, so `from = 2026-01-01` and
/// `from = "2026-01-01"` mean the same.
pub fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// The validator's message, made readable where it is not: a `false`
/// schema says only that a value is not allowed, and a rule inside an
/// if/then does not say why it applies. The schema's own description of the
/// rule is added then.
fn explain(schema: &Value, e: &jsonschema::ValidationError<'_>) -> String {
    let mut message = match e.kind() {
        jsonschema::error::ValidationErrorKind::FalseSchema => {
            let path = e.instance_path().to_string();
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            format!("{name:?} is not allowed here")
        }
        _ => e.to_string(),
    };
    let pointer = e.absolute_keyword_location().and_then(|uri| {
        uri.as_str()
            .split_once('#')
            .map(|(_, f)| f.replace("%24", "$"))
    });
    if let Some(pointer) = pointer {
        let tokens: Vec<&str> = pointer.split('/').skip(1).collect();
        // Up to the object holding the if/then, not beyond it.
        let container = tokens.iter().rposition(|t| *t == "then" || *t == "else");
        let why = container.and_then(|c| {
            (c..=tokens.len()).rev().find_map(|n| {
                let at = tokens[..n].iter().try_fold(schema, |v, t| match v {
                    Value::Object(o) => o.get(*t),
                    Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                })?;
                at.get("description")?.as_str()
            })
        });
        if let Some(why) = why {
            message.push_str(&format!(" ({why})"));
        }
    }
    message
}

/// JSON pointers of every float in the file.
fn find_floats(value: &toml::Value, path: &mut String, out: &mut Vec<String>) {
    let len = path.len();
    match value {
        toml::Value::Float(_) => out.push(path.clone()),
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push_str(&format!("/{i}"));
                find_floats(v, path, out);
                path.truncate(len);
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t {
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                find_floats(v, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Byte offset of the deepest part of `pointer` that exists in the file.
fn locate(root: &toml::Spanned<toml::de::DeTable<'_>>, pointer: &str) -> Option<usize> {
    let mut offset = root.span().start;
    let mut current: Option<&toml::de::DeValue<'_>> = None;
    let mut table = Some(root.get_ref());
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let next = match (table, current) {
            (Some(t), _) => t
                .iter()
                .find(|(k, _)| **k.get_ref() == *token)
                .map(|(_, v)| v),
            (None, Some(toml::de::DeValue::Array(a))) => {
                token.parse::<usize>().ok().and_then(|i| a.get(i))
            }
            _ => None,
        };
        let Some(next) = next else { break };
        offset = next.span().start;
        current = Some(next.get_ref());
        table = match next.get_ref() {
            toml::de::DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    Some(offset)
}

/// Line numbers (from 1) of byte offsets.
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { starts }
    }

    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}
