//! [`Message`] -> XML, in the standard's namespaces and element order.
//!
//! The tree already holds children in schema order, so writing is a plain
//! walk: message elements get the message prefix (`wmo301:`), basisschema
//! elements the basis prefix (`iwmo:`), both declared once on the root as the
//! official examples do.

use std::fmt::Write as _;

use crate::message::{Message, NodeRef};

/// Serializes a message as indented UTF-8 XML.
pub fn encode(msg: &Message) -> String {
    let def = msg.def();
    let std = msg.standard();
    let mut out = String::with_capacity(msg.text.len() * 3 + msg.nodes.len() * 48 + 256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<{p}:Bericht xmlns:{p}=\"{ns}\" xmlns:{b}=\"{bns}\">",
        p = def.prefix,
        ns = def.namespace,
        b = std.basis_prefix,
        bns = std.basis_namespace
    );
    for child in msg.root().children() {
        write_node(&mut out, child, 1, &def.prefix, &std.basis_prefix);
    }
    let _ = writeln!(out, "</{}:Bericht>", def.prefix);
    out
}

fn write_node(out: &mut String, node: NodeRef<'_>, depth: usize, prefix: &str, basis: &str) {
    let p = if node.in_basis() { basis } else { prefix };
    let name = node.name();
    for _ in 0..depth {
        out.push_str("  ");
    }
    if node.class().is_some() {
        let _ = writeln!(out, "<{p}:{name}>");
        for child in node.children() {
            write_node(out, child, depth + 1, prefix, basis);
        }
        for _ in 0..depth {
            out.push_str("  ");
        }
        let _ = writeln!(out, "</{p}:{name}>");
    } else {
        let _ = write!(out, "<{p}:{name}>");
        escape_into(out, node.text());
        let _ = writeln!(out, "</{p}:{name}>");
    }
}

/// Escapes text content. Carriage returns are written as a character reference
/// so that a value survives the XML parser's line-end normalisation unchanged.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
}

/// Builds messages in code: every element is added by name, the tree keeps
/// schema order, and a name the schema does not know is an error instead of
/// a silently missing element. Generated heenberichten (declarations, start
/// and stop, requests) share this, so the header is written in one place.
pub struct Builder {
    pub msg: Message,
}

impl Builder {
    /// A new heenbericht `name` (WMO323, JW305, ...) with its Header filled:
    /// BerichtCode, version, sender, receiver, identification and the XSD
    /// versions loket writes.
    pub fn heenbericht(
        schema: &'static crate::schema::Schema,
        name: &str,
        afzender: &str,
        ontvanger: &str,
        identificatie: &str,
        dagtekening: chrono::NaiveDate,
    ) -> anyhow::Result<Builder> {
        let key = schema
            .by_name(name)
            .ok_or_else(|| anyhow::anyhow!("message {name} is not in the schema"))?;
        let mut b = Builder {
            msg: Message::new(schema, key),
        };
        let code = b.msg.def().code.to_string();
        let std = b.msg.standard();
        let (basis, bericht) = (
            std.basisschema_xsd_versie.clone(),
            std.bericht_xsd_versie.clone(),
        );
        let h = b.add(0, "Header")?;
        b.value(h, "BerichtCode", &code)?;
        b.value(h, "BerichtVersie", "3")?;
        b.value(h, "BerichtSubversie", "2")?;
        b.value(h, "Afzender", afzender)?;
        b.value(h, "Ontvanger", ontvanger)?;
        let id = b.add(h, "BerichtIdentificatie")?;
        b.value(id, "Identificatie", identificatie)?;
        b.value(id, "Dagtekening", &dagtekening.to_string())?;
        let x = b.add(h, "XsdVersie")?;
        b.value(x, "BasisschemaXsdVersie", &basis)?;
        b.value(x, "BerichtXsdVersie", &bericht)?;
        Ok(b)
    }

    /// Adds element `name` under `parent`.
    pub fn add(
        &mut self,
        parent: crate::message::NodeId,
        name: &str,
    ) -> anyhow::Result<crate::message::NodeId> {
        self.msg
            .add_element(parent, name)
            .ok_or_else(|| anyhow::anyhow!("{} has no element {name} here", self.msg.name()))
    }

    /// Adds simple element `name` with `value` under `parent`.
    pub fn value(
        &mut self,
        parent: crate::message::NodeId,
        name: &str,
        value: &str,
    ) -> anyhow::Result<crate::message::NodeId> {
        self.msg
            .add_value(parent, name, value)
            .ok_or_else(|| anyhow::anyhow!("{} has no element {name} here", self.msg.name()))
    }

    /// Adds `name` with `value` when there is one.
    pub fn opt(
        &mut self,
        parent: crate::message::NodeId,
        name: &str,
        value: Option<&str>,
    ) -> anyhow::Result<()> {
        if let Some(v) = value {
            self.value(parent, name, v)?;
        }
        Ok(())
    }
}
