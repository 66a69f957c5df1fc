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
