//! The StUF-GGk envelopes as the exchange test counterpart reads and writes
//! them: Di01 (heenbericht) and Du01 (retourbericht) in both schema editions,
//! and the StUF 03.01 Fo01 error message.
//!
//! Written from the published XSDs in `../shared/reference/stuf-ggk-0310`
//! and `../shared/reference/stuf-ggk-0210-patch04` (`ggk0310_msg.xsd`,
//! `ggk0310_msg_stuf.xsd`, `ggk0210_msg_ggkberichten.xsd`,
//! `ggk0210_stuf0301_msg_ggkberichten.xsd`, `stuf0301.xsd`): [`check`] walks
//! an envelope element by element in the order the schema's sequences
//! demand and refuses anything the schema would, plus the exchange's own
//! rules that the 0310 schema leaves to the text (a UUID v4 referentienummer
//! in both editions, `GGk` as ontvanger applicatie, a 25 MB payload).
//! An XSD validator would say the same and more; the counterpart does it
//! in-process so the tests run where `xmllint` is missing, and CI validates
//! every envelope with the official XSDs afterwards (`LOKET_CONFORMANCE_DIR`).

use std::fmt::Write as _;

use loket::adapter::xml::{check_decl, is_xml_space, resolve_ref};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};

pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const STUF_NS: &str = "http://www.egem.nl/StUF/StUF0301";
pub const XMIME_NS: &str = "http://www.w3.org/2005/05/xmlmime";
pub const NS_0310: &str = "http://www.stufstandaarden.nl/sectormodel/ggk/0210";
pub const NS_0210: &str = "http://www.stufstandaarden.nl/koppelvlak/ggk0210";
pub const FO01_ACTION: &str = "http://www.egem.nl/StUF/StUF0301/Fo01";
pub const DI01: &str = "envelopHeenbericht-ggk_Di01";
pub const DU01: &str = "envelopRetourbericht-ggk_Du01";

/// The exchange's limit per message: 25 MB, read as MiB (the larger
/// reading, so the counterpart never refuses what the GGk takes).
pub const MAX_PAYLOAD: usize = 25 * 1024 * 1024;

/// The message codes the GGk routes for iWmo and iJw (`functie`).
pub const FUNCTIES: [&str; 14] = [
    "301", "302", "305", "306", "307", "308", "315", "316", "317", "318", "319", "320", "323",
    "325",
];

/// The retour codes: these travel as a Du01, the others as a Di01.
pub const RETOURS: [&str; 7] = ["302", "306", "308", "316", "318", "320", "325"];

/// Whether `functie` (WMO301, JW325, ...) is one the GGk knows.
pub fn known_functie(functie: &str) -> bool {
    let number = functie
        .strip_prefix("WMO")
        .or_else(|| functie.strip_prefix("JW"));
    number.is_some_and(|n| FUNCTIES.contains(&n))
}

/// Whether `functie` is a retour (travels as a Du01).
pub fn is_retour(functie: &str) -> bool {
    RETOURS.iter().any(|r| functie.ends_with(r))
}

/// The two schema editions of the envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edition {
    /// StUF-GGk 03.10: namespace `.../sectormodel/ggk/0210`, `<bericht>`
    /// holding the base64 with `xmime:contentType`.
    E0310,
    /// StUF-GGk 02.10 patch 4: namespace `.../koppelvlak/ggk0210`,
    /// `<bericht><xmlBestand>` (or `<tekstBestand bestandsnaam=..>`).
    E0210,
}

impl Edition {
    pub fn ns(self) -> &'static str {
        match self {
            Edition::E0310 => NS_0310,
            Edition::E0210 => NS_0210,
        }
    }

    pub fn of_ns(ns: &str) -> Option<Edition> {
        match ns {
            NS_0310 => Some(Edition::E0310),
            NS_0210 => Some(Edition::E0210),
            _ => None,
        }
    }

    /// The WSDL's soapAction for a Di01 (`retour` false) or Du01.
    pub fn action(self, retour: bool) -> String {
        format!(
            "{}/{}",
            self.ns(),
            if retour { "ggk_Du01" } else { "ggk_Di01" }
        )
    }
}

/// Which envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Di01,
    Du01,
    Fo01,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Di01 => "Di01",
            Kind::Du01 => "Du01",
            Kind::Fo01 => "Fo01",
        }
    }
}

/// `zender` / `ontvanger`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Systeem {
    pub organisatie: String,
    pub applicatie: String,
    pub administratie: Option<String>,
    pub gebruiker: Option<String>,
}

impl Systeem {
    pub fn new(organisatie: &str, applicatie: &str) -> Self {
        Systeem {
            organisatie: organisatie.into(),
            applicatie: applicatie.into(),
            administratie: None,
            gebruiker: None,
        }
    }
}

/// A Di01 or Du01 to write.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub edition: Edition,
    /// Du01 when set: the referentienummer of the Di01 it answers.
    pub cross_ref: Option<String>,
    pub zender: Systeem,
    pub ontvanger: Systeem,
    pub referentienummer: String,
    pub tijdstip: String,
    pub functie: String,
    pub applicatie_versie: String,
    pub applicatie_subversie: String,
    pub functie_versie: String,
    pub functie_subversie: String,
    pub payload: Vec<u8>,
    /// 0210: written as `tekstBestand` with this name instead of
    /// `xmlBestand`; 0310: the `StUF:bestandsnaam`.
    pub bestandsnaam: Option<String>,
    pub tekst: bool,
}

impl Envelope {
    pub fn kind(&self) -> Kind {
        if self.cross_ref.is_some() {
            Kind::Du01
        } else {
            Kind::Di01
        }
    }

    pub fn action(&self) -> String {
        self.edition.action(self.cross_ref.is_some())
    }

    /// The envelope as a document of its own (what the XSDs validate).
    pub fn to_xml(&self) -> String {
        let root = if self.cross_ref.is_some() { DU01 } else { DI01 };
        let mut x = String::new();
        let _ = write!(
            x,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<GGK:{root} xmlns:GGK="{}" xmlns:StUF="{STUF_NS}" xmlns:xmime="{XMIME_NS}">"#,
            self.edition.ns()
        );
        x.push_str("<GGK:stuurgegevens>");
        let _ = write!(
            x,
            "<StUF:berichtcode>{}</StUF:berichtcode>",
            self.kind().as_str()
        );
        systeem(&mut x, "zender", &self.zender);
        systeem(&mut x, "ontvanger", &self.ontvanger);
        leaf(&mut x, "StUF:referentienummer", &self.referentienummer);
        leaf(&mut x, "StUF:tijdstipBericht", &self.tijdstip);
        if let Some(c) = &self.cross_ref {
            leaf(&mut x, "StUF:crossRefnummer", c);
        }
        leaf(&mut x, "StUF:functie", &self.functie);
        x.push_str("</GGK:stuurgegevens><GGK:parameters>");
        leaf(&mut x, "GGK:applicatieVersie", &self.applicatie_versie);
        leaf(
            &mut x,
            "GGK:applicatieSubversie",
            &self.applicatie_subversie,
        );
        leaf(&mut x, "GGK:functieVersie", &self.functie_versie);
        leaf(&mut x, "GGK:functieSubversie", &self.functie_subversie);
        let data = base64_encode(&self.payload);
        match self.edition {
            Edition::E0310 => {
                let name = self
                    .bestandsnaam
                    .as_ref()
                    .map(|n| format!(r#" StUF:bestandsnaam="{}""#, escape(n)))
                    .unwrap_or_default();
                let _ = write!(
                    x,
                    r#"<GGK:bericht{name} xmime:contentType="application/xml">{data}</GGK:bericht>"#
                );
            }
            Edition::E0210 => match (&self.bestandsnaam, self.tekst) {
                (Some(n), true) => {
                    let _ = write!(
                        x,
                        r#"<GGK:bericht><GGK:tekstBestand bestandsnaam="{}">{data}</GGK:tekstBestand></GGK:bericht>"#,
                        escape(n)
                    );
                }
                _ => {
                    let _ = write!(
                        x,
                        "<GGK:bericht><GGK:xmlBestand>{data}</GGK:xmlBestand></GGK:bericht>"
                    );
                }
            },
        }
        let _ = write!(x, "</GGK:parameters></GGK:{root}>");
        x
    }
}

/// A Fo01 to write.
#[derive(Clone, Debug)]
pub struct Fo01 {
    pub zender: Systeem,
    pub ontvanger: Systeem,
    pub referentienummer: String,
    pub tijdstip: String,
    pub cross_ref: String,
    pub code: String,
    pub plek: String,
    pub omschrijving: String,
    pub details: Option<String>,
}

impl Fo01 {
    pub fn to_xml(&self) -> String {
        let mut x = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<StUF:Fo01Bericht xmlns:StUF="{STUF_NS}"><StUF:stuurgegevens><StUF:berichtcode>Fo01</StUF:berichtcode>"#
        );
        systeem(&mut x, "zender", &self.zender);
        systeem(&mut x, "ontvanger", &self.ontvanger);
        leaf(&mut x, "StUF:referentienummer", &self.referentienummer);
        leaf(&mut x, "StUF:tijdstipBericht", &self.tijdstip);
        leaf(&mut x, "StUF:crossRefnummer", &self.cross_ref);
        x.push_str("</StUF:stuurgegevens><StUF:body>");
        leaf(&mut x, "StUF:code", &self.code);
        leaf(&mut x, "StUF:plek", &self.plek);
        leaf(&mut x, "StUF:omschrijving", &self.omschrijving);
        if let Some(d) = &self.details {
            leaf(&mut x, "StUF:details", d);
        }
        x.push_str("</StUF:body></StUF:Fo01Bericht>");
        x
    }
}

fn systeem(x: &mut String, name: &str, s: &Systeem) {
    let _ = write!(x, "<StUF:{name}>");
    leaf(x, "StUF:organisatie", &s.organisatie);
    leaf(x, "StUF:applicatie", &s.applicatie);
    if let Some(a) = &s.administratie {
        leaf(x, "StUF:administratie", a);
    }
    if let Some(g) = &s.gebruiker {
        leaf(x, "StUF:gebruiker", g);
    }
    let _ = write!(x, "</StUF:{name}>");
}

fn leaf(x: &mut String, name: &str, value: &str) {
    let _ = write!(x, "<{name}>{}</{name}>", escape(value));
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A document (an envelope, a Fo01) in a SOAP 1.1 envelope.
pub fn soap(document: &str) -> String {
    let body = match document.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(document, |(_, r)| r.trim_start()),
        None => document,
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

/// A SOAP 1.1 fault as the adapter answers a refused envelope (HTTP 500).
pub fn soap_fault(code: &str, nl: &str, en: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>{} / {}</faultstring><detail><code>{}</code></detail></soap:Fault></soap:Body></soap:Envelope>"#,
        escape(nl),
        escape(en),
        escape(code)
    )
}

// ---------------------------------------------------------------------------
// Base64, strict: the XSD's base64Binary (white space between groups
// allowed, padding only at the end, nothing else).

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let clean: Vec<u8> = text.bytes().filter(|b| !is_space(*b)).collect();
    if !clean.len().is_multiple_of(4) {
        return Err(format!(
            "base64 of {} characters is not a multiple of 4",
            clean.len()
        ));
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let groups = clean.len() / 4;
    for (g, quad) in clean.chunks(4).enumerate() {
        let mut n = 0u32;
        let mut pad = 0;
        for (i, &c) in quad.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if g + 1 == groups && i >= 2 => {
                    pad += 1;
                    0
                }
                _ => return Err(format!("'{}' is not base64", c as char)),
            };
            if pad > 0 && c != b'=' {
                return Err("base64 padding in the middle".into());
            }
            n = (n << 6) | u32::from(v);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

// ---------------------------------------------------------------------------
// Reading: a namespace-aware tree (attributes keep their namespace, which
// the schema's qualified attributes need), behind the same guards as
// loket's own reader (no DOCTYPE, only predefined entities, UTF-8).

#[derive(Clone, Debug, Default)]
pub struct El {
    pub ns: String,
    pub name: String,
    /// (namespace, local name, value); namespace declarations left out.
    pub attrs: Vec<(String, String, String)>,
    pub text: String,
    pub children: Vec<El>,
}

impl El {
    fn attr(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, l, _)| n == ns && l == name)
            .map(|(_, _, v)| v.as_str())
    }

    /// The element as a document of its own, every namespace declared on
    /// its root with a prefix of the counterpart's choosing: what goes to
    /// the conformance directory (the XSDs validate by namespace, not prefix).
    pub fn to_document(&self) -> String {
        let mut nss: Vec<String> = Vec::new();
        self.collect_ns(&mut nss);
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write(&mut x, &nss, true);
        x
    }

    fn collect_ns(&self, nss: &mut Vec<String>) {
        let mut add = |n: &str| {
            if !n.is_empty() && !nss.iter().any(|m| m == n) {
                nss.push(n.to_string());
            }
        };
        add(&self.ns);
        for (n, _, _) in &self.attrs {
            add(n);
        }
        for c in &self.children {
            c.collect_ns(nss);
        }
    }

    fn write(&self, x: &mut String, nss: &[String], root: bool) {
        let q = |ns: &str, name: &str| match nss.iter().position(|n| n == ns) {
            Some(i) => format!("n{i}:{name}"),
            None => name.to_string(),
        };
        let tag = q(&self.ns, &self.name);
        let _ = write!(x, "<{tag}");
        if root {
            for (i, n) in nss.iter().enumerate() {
                let _ = write!(x, " xmlns:n{i}=\"{}\"", escape(n));
            }
        }
        for (n, l, v) in &self.attrs {
            let _ = write!(x, " {}=\"{}\"", q(n, l), escape(v));
        }
        x.push('>');
        if self.children.is_empty() {
            x.push_str(&escape(&self.text));
        }
        for c in &self.children {
            c.write(x, nss, false);
        }
        let _ = write!(x, "</{tag}>");
    }
}

/// Reads `input` into a tree; a refusal says why.
pub fn read(input: &[u8]) -> Result<El, String> {
    let text = std::str::from_utf8(input).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err("a second root element".into());
                }
                if stack.len() > 32 {
                    return Err("elements nest deeper than 32".into());
                }
                let (ns, local) = reader.resolver().resolve_element(e.name());
                let mut el = El {
                    ns: bound(ns),
                    name: AsRef::<str>::as_ref(&local).to_string(),
                    ..El::default()
                };
                for a in e.attributes().with_checks(true) {
                    let a = a.map_err(|err| format!("bad attribute: {err}"))?;
                    if a.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (ans, alocal) = reader.resolver().resolve_attribute(a.key);
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| format!("bad attribute value: {err}"))?;
                    el.attrs.push((
                        bound(ans),
                        AsRef::<str>::as_ref(&alocal).to_string(),
                        value.into_owned(),
                    ));
                }
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                if let Some(el) = stack.pop() {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&content),
                    None if is_xml_space(&content) => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    let content: &str = &c;
                    el.text.push_str(content);
                }
            }
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r, || 0).map_err(|e| e.to_string())?;
                if let Some(el) = stack.last_mut() {
                    el.text.push(c);
                }
            }
            Event::DocType(_) => return Err("a DOCTYPE is refused".into()),
            Event::Decl(d) => check_decl(&d).map_err(|e| e.to_string())?,
            Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if stack.last().is_some() {
                    return Err("the document ends inside an element".into());
                }
                return root.ok_or_else(|| "no root element".into());
            }
        }
    }
}

fn bound(r: ResolveResult<'_>) -> String {
    match r {
        ResolveResult::Bound(Namespace(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn close(stack: &mut [El], root: &mut Option<El>, el: El) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

// ---------------------------------------------------------------------------
// Checking.

/// An envelope that passed [`check`].
#[derive(Clone, Debug)]
pub struct Checked {
    pub kind: Kind,
    /// None for a Fo01 (StUF 03.01, one edition).
    pub edition: Option<Edition>,
    pub zender: Systeem,
    pub ontvanger: Systeem,
    pub referentienummer: String,
    pub tijdstip: String,
    pub cross_ref: Option<String>,
    pub functie: Option<String>,
    pub functie_versie: Option<String>,
    pub functie_subversie: Option<String>,
    /// Di01/Du01: the decoded message.
    pub payload: Vec<u8>,
    /// Fo01: code and omschrijving.
    pub fout: Option<(String, String)>,
    /// The body's element as a document of its own (for the conformance
    /// directory).
    pub document: String,
}

/// Why an envelope is refused: the code the adapter puts in its fault
/// (IB001 the envelope fails its XSD, IB003 too large, IB004 unknown
/// functie) and what is wrong.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
}

fn refuse<T>(code: &'static str, reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        code,
        reason: reason.into(),
    })
}

fn xsd<T>(reason: impl Into<String>) -> Result<T, Refusal> {
    refuse("IB001", reason)
}

/// The UUID v4 pattern of the 0210 schema (lower case, version 4, variant
/// 8-b), which the exchange demands of every referentienummer.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            14 => c == b'4',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// Children of `el` in order, checked against a sequence of (namespace,
/// name, required) the schema demands: nothing else, nothing out of order,
/// nothing twice.
fn sequence<'a>(
    el: &'a El,
    what: &str,
    expect: &[(&str, &str, bool)],
) -> Result<Vec<Option<&'a El>>, Refusal> {
    let mut out = vec![None; expect.len()];
    let mut at = 0;
    for c in &el.children {
        let Some(i) = expect[at..]
            .iter()
            .position(|(ns, n, _)| *ns == c.ns && *n == c.name)
            .map(|i| i + at)
        else {
            return xsd(format!(
                "{what}: element {{{}}}{} not expected here (order or presence per the XSD)",
                c.ns, c.name
            ));
        };
        if let Some((_, n, _)) = expect[at..i].iter().find(|(_, _, req)| *req) {
            return xsd(format!(
                "{what}: required element {n} missing before {}",
                c.name
            ));
        }
        out[i] = Some(c);
        at = i + 1;
    }
    if let Some((_, n, _)) = expect[at..].iter().find(|(_, _, req)| *req) {
        return xsd(format!("{what}: required element {n} missing"));
    }
    if !el.text.trim().is_empty() {
        return xsd(format!("{what}: text where only elements may be"));
    }
    Ok(out)
}

fn simple(el: &El, what: &str, min: usize, max: usize) -> Result<String, Refusal> {
    if !el.children.is_empty() || !el.attrs.is_empty() {
        return xsd(format!(
            "{what}: a simple value may hold no elements or attributes"
        ));
    }
    let n = el.text.chars().count();
    if n < min || n > max {
        return xsd(format!(
            "{what}: length {n} outside {min}..{max} ({:?})",
            el.text
        ));
    }
    Ok(el.text.clone())
}

fn versienr(el: &El, what: &str) -> Result<String, Refusal> {
    let v = simple(el, what, 4, 4)?;
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return xsd(format!("{what}: Versienr is four digits, not {v:?}"));
    }
    Ok(v)
}

fn systeem_of(el: &El, what: &str, organisatie_required: bool) -> Result<Systeem, Refusal> {
    let s = STUF_NS;
    let seq = sequence(
        el,
        what,
        &[
            (s, "organisatie", organisatie_required),
            (s, "applicatie", true),
            (s, "administratie", false),
            (s, "gebruiker", false),
        ],
    )?;
    let get = |i: usize, name: &str, min, max| -> Result<Option<String>, Refusal> {
        seq[i]
            .map(|e| simple(e, &format!("{what}/{name}"), min, max))
            .transpose()
    };
    Ok(Systeem {
        organisatie: get(0, "organisatie", 0, 200)?.unwrap_or_default(),
        applicatie: get(1, "applicatie", 3, 50)?.unwrap_or_default(),
        administratie: get(2, "administratie", 0, 50)?,
        gebruiker: get(3, "gebruiker", 0, 100)?,
    })
}

fn tijdstip(el: &El, what: &str) -> Result<String, Refusal> {
    let t = simple(el, what, 14, 16)?;
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return xsd(format!(
            "{what}: Tijdstip is yyyyMMddHHmmss[hh], digits only, not {t:?}"
        ));
    }
    Ok(t)
}

fn uuid(el: &El, what: &str) -> Result<String, Refusal> {
    let r = simple(el, what, 1, 40)?;
    if !is_uuid_v4(&r) {
        return xsd(format!("{what}: not a lower-case UUID v4: {r:?}"));
    }
    Ok(r)
}

/// Checks a SOAP request as the adapter receives it: the HTTP headers that
/// SOAP 1.1 and the WSDL fix, the SOAP envelope, and the GGk envelope in its
/// body (either edition, or a Fo01).
pub fn check(
    body: &[u8],
    content_type: Option<&str>,
    soap_action: Option<&str>,
) -> Result<Checked, Refusal> {
    // Base64 of 25 MiB plus the envelope around it.
    if body.len() > MAX_PAYLOAD / 3 * 4 + 64 * 1024 {
        return refuse(
            "IB003",
            format!("request of {} bytes exceeds 25 MB", body.len()),
        );
    }
    let ct = content_type.unwrap_or_default();
    if !ct
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/xml"))
    {
        return refuse(
            "IB001",
            format!("SOAP 1.1 wants content-type text/xml, not {ct:?}"),
        );
    }
    let Some(action) = soap_action else {
        return refuse("IB001", "no SOAPAction header");
    };
    let action = action.trim();
    let action = action
        .strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .unwrap_or(action);
    let doc = read(body).map_err(|reason| Refusal {
        code: "IB001",
        reason,
    })?;
    if doc.ns != SOAP_NS || doc.name != "Envelope" {
        return xsd(format!(
            "root is {{{}}}{}, not a SOAP 1.1 Envelope",
            doc.ns, doc.name
        ));
    }
    let seq = sequence(
        &doc,
        "soap:Envelope",
        &[(SOAP_NS, "Header", false), (SOAP_NS, "Body", true)],
    )?;
    let Some(soap_body) = seq[1] else {
        return xsd("no soap:Body");
    };
    let [inner] = soap_body.children.as_slice() else {
        return xsd(format!(
            "soap:Body holds {} elements, one expected",
            soap_body.children.len()
        ));
    };
    let checked = if inner.ns == STUF_NS && inner.name == "Fo01Bericht" {
        fo01(inner)?
    } else {
        let Some(edition) = Edition::of_ns(&inner.ns) else {
            return xsd(format!(
                "{{{}}}{} is no StUF-GGk envelope",
                inner.ns, inner.name
            ));
        };
        let kind = match inner.name.as_str() {
            DI01 => Kind::Di01,
            DU01 => Kind::Du01,
            other => return xsd(format!("{other} is no StUF-GGk envelope")),
        };
        envelope(inner, edition, kind)?
    };
    let expected = match (checked.kind, checked.edition) {
        (Kind::Fo01, _) | (_, None) => FO01_ACTION.to_string(),
        (k, Some(e)) => e.action(k == Kind::Du01),
    };
    if action != expected {
        return refuse(
            "IB001",
            format!("SOAPAction {action:?} does not match the WSDL's {expected:?}"),
        );
    }
    Ok(checked)
}

fn envelope(root: &El, edition: Edition, kind: Kind) -> Result<Checked, Refusal> {
    let g = edition.ns();
    let s = STUF_NS;
    let top = sequence(
        root,
        &root.name,
        &[(g, "stuurgegevens", true), (g, "parameters", true)],
    )?;
    let (Some(sg), Some(params)) = (top[0], top[1]) else {
        return xsd("stuurgegevens and parameters are required");
    };
    let du = kind == Kind::Du01;
    let st = sequence(
        sg,
        "stuurgegevens",
        &[
            (s, "berichtcode", true),
            (s, "zender", true),
            (s, "ontvanger", true),
            (s, "referentienummer", true),
            (s, "tijdstipBericht", true),
            (s, "crossRefnummer", du),
            (s, "functie", true),
        ],
    )?;
    if !du && st[5].is_some() {
        return xsd("a Di01 has no crossRefnummer");
    }
    let req = |i: usize| {
        st[i].ok_or_else(|| Refusal {
            code: "IB001",
            reason: "stuurgegevens incomplete".into(),
        })
    };
    let code = simple(req(0)?, "berichtcode", 4, 4)?;
    if code != kind.as_str() {
        return xsd(format!(
            "berichtcode {code:?} in a {} envelope",
            kind.as_str()
        ));
    }
    let zender = systeem_of(req(1)?, "zender", true)?;
    let ontvanger = systeem_of(req(2)?, "ontvanger", true)?;
    let referentienummer = uuid(req(3)?, "referentienummer")?;
    let tijdstip = tijdstip(req(4)?, "tijdstipBericht")?;
    let cross_ref = st[5].map(|e| uuid(e, "crossRefnummer")).transpose()?;
    let functie = simple(req(6)?, "functie", 1, 30)?;
    if !known_functie(&functie) {
        return refuse("IB004", format!("functie {functie:?} is not supported"));
    }
    if is_retour(&functie) != du {
        return refuse(
            "IB006",
            format!("functie {functie} does not travel as a {}", kind.as_str()),
        );
    }
    let mut fields: Vec<(&str, &str, bool)> = Vec::new();
    if edition == Edition::E0310 {
        fields.push((g, "referentienummerBericht", false));
        if du {
            fields.push((g, "crossRefnummerBericht", false));
        }
    }
    let base = fields.len();
    fields.extend([
        (g, "applicatieVersie", true),
        (g, "applicatieSubversie", true),
        (g, "functieVersie", true),
        (g, "functieSubversie", true),
        (g, "bericht", true),
    ]);
    let p = sequence(params, "parameters", &fields)?;
    for e in p[..base].iter().flatten() {
        simple(e, &e.name, 0, 40)?;
    }
    let preq = |i: usize| {
        p[base + i].ok_or_else(|| Refusal {
            code: "IB001",
            reason: "parameters incomplete".into(),
        })
    };
    versienr(preq(0)?, "applicatieVersie")?;
    versienr(preq(1)?, "applicatieSubversie")?;
    let functie_versie = versienr(preq(2)?, "functieVersie")?;
    let functie_subversie = versienr(preq(3)?, "functieSubversie")?;
    let bericht = preq(4)?;
    let data = match edition {
        Edition::E0310 => {
            if !bericht.children.is_empty() {
                return xsd("0310 bericht holds base64, no elements");
            }
            for (n, l, _) in &bericht.attrs {
                let allowed =
                    (n == XMIME_NS && l == "contentType") || (n == s && l == "bestandsnaam");
                if !allowed {
                    return xsd(format!("bericht: attribute {{{n}}}{l} not allowed"));
                }
            }
            match bericht.attr(XMIME_NS, "contentType") {
                Some(ct) if ct.chars().count() >= 3 => {}
                Some(ct) => return xsd(format!("xmime:contentType {ct:?} shorter than 3")),
                None => return xsd("bericht: xmime:contentType is required"),
            }
            if bericht
                .attr(s, "bestandsnaam")
                .is_some_and(|n| n.chars().count() > 255)
            {
                return xsd("StUF:bestandsnaam longer than 255");
            }
            bericht.text.clone()
        }
        Edition::E0210 => {
            if !bericht.attrs.is_empty() || !bericht.text.trim().is_empty() {
                return xsd("0210 bericht holds one xmlBestand or tekstBestand only");
            }
            let [file] = bericht.children.as_slice() else {
                return xsd("0210 bericht holds exactly one of xmlBestand and tekstBestand");
            };
            if file.ns != g || !file.children.is_empty() {
                return xsd("0210 bericht: xmlBestand or tekstBestand in the envelope's namespace");
            }
            match file.name.as_str() {
                "xmlBestand" if file.attrs.is_empty() => {}
                "xmlBestand" => return xsd("xmlBestand has no attributes"),
                "tekstBestand" => {
                    let name = match file.attrs.as_slice() {
                        [(n, l, v)] if n.is_empty() && l == "bestandsnaam" => v,
                        _ => return xsd("tekstBestand has exactly the attribute bestandsnaam"),
                    };
                    let ok = (4..=255).contains(&name.chars().count())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
                    if !ok {
                        return xsd(format!("bestandsnaam {name:?} does not match its pattern"));
                    }
                }
                other => {
                    return xsd(format!(
                        "bericht: {other} is neither xmlBestand nor tekstBestand"
                    ));
                }
            }
            file.text.clone()
        }
    };
    let payload = base64_decode(&data).map_err(|e| Refusal {
        code: "IB001",
        reason: format!("bericht: {e}"),
    })?;
    if payload.len() > MAX_PAYLOAD {
        return refuse(
            "IB003",
            format!("payload of {} bytes exceeds 25 MB", payload.len()),
        );
    }
    Ok(Checked {
        kind,
        edition: Some(edition),
        zender,
        ontvanger,
        referentienummer,
        tijdstip,
        cross_ref,
        functie: Some(functie),
        functie_versie: Some(functie_versie),
        functie_subversie: Some(functie_subversie),
        payload,
        fout: None,
        document: root.to_document(),
    })
}

fn fo01(root: &El) -> Result<Checked, Refusal> {
    let s = STUF_NS;
    let top = sequence(
        root,
        "Fo01Bericht",
        &[(s, "stuurgegevens", true), (s, "body", true)],
    )?;
    let (Some(sg), Some(body)) = (top[0], top[1]) else {
        return xsd("stuurgegevens and body are required");
    };
    let st = sequence(
        sg,
        "stuurgegevens",
        &[
            (s, "berichtcode", true),
            (s, "zender", true),
            (s, "ontvanger", true),
            (s, "referentienummer", true),
            (s, "tijdstipBericht", true),
            (s, "crossRefnummer", true),
        ],
    )?;
    let req = |i: usize| {
        st[i].ok_or_else(|| Refusal {
            code: "IB001",
            reason: "stuurgegevens incomplete".into(),
        })
    };
    if simple(req(0)?, "berichtcode", 4, 4)? != "Fo01" {
        return xsd("berichtcode of a Fo01Bericht is fixed Fo01");
    }
    // StUF:Systeem: organisatie optional there, but the GGk routes by it.
    let zender = systeem_of(req(1)?, "zender", true)?;
    let ontvanger = systeem_of(req(2)?, "ontvanger", true)?;
    let referentienummer = uuid(req(3)?, "referentienummer")?;
    let tijdstip = tijdstip(req(4)?, "tijdstipBericht")?;
    let cross_ref = uuid(req(5)?, "crossRefnummer")?;
    let b = sequence(
        body,
        "body",
        &[
            (s, "code", true),
            (s, "plek", true),
            (s, "omschrijving", true),
            (s, "details", false),
            (s, "detailsXML", false),
        ],
    )?;
    let code = b[0]
        .map(|e| simple(e, "code", 1, 7))
        .transpose()?
        .unwrap_or_default();
    let plek = b[1]
        .map(|e| simple(e, "plek", 1, 6))
        .transpose()?
        .unwrap_or_default();
    if plek != "client" && plek != "server" {
        return xsd(format!("plek {plek:?} is neither client nor server"));
    }
    let omschrijving = b[2]
        .map(|e| simple(e, "omschrijving", 0, 200))
        .transpose()?
        .unwrap_or_default();
    if let Some(d) = b[3] {
        simple(d, "details", 0, 1000)?;
    }
    Ok(Checked {
        kind: Kind::Fo01,
        edition: None,
        zender,
        ontvanger,
        referentienummer,
        tijdstip,
        cross_ref: Some(cross_ref),
        functie: None,
        functie_versie: None,
        functie_subversie: None,
        payload: Vec::new(),
        fout: Some((code, omschrijving)),
        document: root.to_document(),
    })
}
