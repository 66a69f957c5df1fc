//! The project's JSON rendering of a message, and back.
//!
//! Objects follow the element tree; an element that may repeat is always an
//! array (even with one item), so consumers need no schema to read it.
//! Integers are JSON numbers when that loses nothing; codes such as "01" stay
//! strings. Reading JSON walks the same schema, so unknown keys and wrong
//! shapes are reported with their JSON path.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::message::{Message, NodeId, NodeRef};
use crate::schema::{Base, Content, Schema};

#[derive(Debug, Error)]
#[error("{path}: {en} / {nl}")]
pub struct JsonError {
    pub path: String,
    pub nl: String,
    pub en: String,
}

fn err(path: &str, nl: impl Into<String>, en: impl Into<String>) -> JsonError {
    JsonError {
        path: path.to_string(),
        nl: nl.into(),
        en: en.into(),
    }
}

/// Renders a message as JSON: `{"standaard": "iwmo", "bericht": "WMO301", "Header": {...}, ...}`.
pub fn to_json(msg: &Message) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "standaard".into(),
        Value::String(msg.standard().name.clone()),
    );
    obj.insert("bericht".into(), Value::String(msg.name().to_string()));
    fill_object(&mut obj, msg.root());
    Value::Object(obj)
}

fn fill_object(obj: &mut Map<String, Value>, node: NodeRef<'_>) {
    for child in node.children() {
        let v = node_value(child);
        if child.def().max > 1 {
            match obj
                .entry(child.name().to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(a) => a.push(v),
                other => *other = Value::Array(vec![v]),
            }
        } else {
            obj.insert(child.name().to_string(), v);
        }
    }
}

pub fn node_value(node: NodeRef<'_>) -> Value {
    if node.class().is_some() {
        let mut obj = Map::new();
        fill_object(&mut obj, node);
        return Value::Object(obj);
    }
    let text = node.text();
    if let Some(dt) = node.datatype()
        && dt.base == Base::Integer
        && let Ok(n) = text.parse::<i64>()
        && n.to_string() == text
    {
        return Value::Number(n.into());
    }
    Value::String(text.to_string())
}

/// Builds a message from its JSON rendering. The result still has to be
/// validated like any other message; this only checks the shape.
pub fn from_json(schema: &'static Schema, value: &Value) -> Result<Message, JsonError> {
    let obj = value
        .as_object()
        .ok_or_else(|| err("$", "verwacht een JSON-object", "expected a JSON object"))?;
    let name = obj.get("bericht").and_then(Value::as_str).ok_or_else(|| {
        err(
            "$.bericht",
            "berichtnaam (bijv. WMO301) ontbreekt",
            "message name (e.g. WMO301) is missing",
        )
    })?;
    let key = schema.by_name(name).ok_or_else(|| {
        err(
            "$.bericht",
            format!("onbekend bericht {name}"),
            format!("unknown message {name}"),
        )
    })?;
    let mut msg = Message::new(schema, key);
    let skip = ["standaard", "bericht"];
    build(&mut msg, 0, obj, "$", &skip)?;
    Ok(msg)
}

/// Adds element `name` under `parent` with the content `value` has in the
/// JSON rendering ([`node_value`]): how a block the record keeps as JSON (a
/// client's Naam or Contactgegevens) goes back into a message.
pub fn add_json(
    msg: &mut Message,
    parent: NodeId,
    name: &str,
    value: &Value,
) -> Result<(), JsonError> {
    let mut obj = Map::new();
    obj.insert(name.to_string(), value.clone());
    build(msg, parent, &obj, "$", &[])
}

fn build(
    msg: &mut Message,
    parent: NodeId,
    obj: &Map<String, Value>,
    path: &str,
    skip: &[&str],
) -> Result<(), JsonError> {
    let class = match msg.node(parent).def().content {
        Content::Complex(c) => msg.standard().class(c),
        Content::Simple(_) => return Err(err(path, "verwacht een waarde", "expected a value")),
    };
    for (k, v) in obj {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let p = format!("{path}.{k}");
        let Some(idx) = class.element_index(k) else {
            return Err(err(
                &p,
                format!("{k} is geen element van {}", class.name),
                format!("{k} is not an element of {}", class.name),
            ));
        };
        let def = &class.elements[idx];
        let items: Vec<(String, &Value)> = if def.max > 1 {
            let arr = v
                .as_array()
                .ok_or_else(|| err(&p, "verwacht een lijst (array)", "expected an array"))?;
            arr.iter()
                .enumerate()
                .map(|(i, item)| (format!("{p}[{i}]"), item))
                .collect()
        } else {
            vec![(p.clone(), v)]
        };
        for (ip, item) in items {
            let node = msg
                .add_element(parent, k)
                .ok_or_else(|| err(&ip, "element past hier niet", "element does not fit here"))?;
            match (def.content, item) {
                (Content::Complex(_), Value::Object(o)) => build(msg, node, o, &ip, &[])?,
                (Content::Complex(_), _) => {
                    return Err(err(&ip, "verwacht een object", "expected an object"));
                }
                (Content::Simple(_), Value::String(s)) => msg.set_text(node, s),
                (Content::Simple(_), Value::Number(n)) => msg.set_text(node, &n.to_string()),
                (Content::Simple(_), _) => {
                    return Err(err(
                        &ip,
                        "verwacht een tekst of getal",
                        "expected a string or number",
                    ));
                }
            }
        }
    }
    Ok(())
}
