//! The StUF-GGk envelope, both editions, and the StUF Fo01 error message:
//! read from inside a SOAP 1.1 Envelope, and written so that the official
//! schemas accept them (`../shared/tools/validate-istandaard`).
//!
//! - edition 0310 (namespace `http://www.stufstandaarden.nl/sectormodel/ggk/0210`):
//!   the message base64 in `<bericht StUF:bestandsnaam=".." xmime:contentType="..">`;
//! - edition 0210 (namespace `http://www.stufstandaarden.nl/koppelvlak/ggk0210`):
//!   `<bericht><xmlBestand>` (or `<tekstBestand bestandsnaam="..">`, read only),
//!   and a referentienummer that must be a UUID v4;
//! - Fo01 (`StUF:Fo01Bericht`, namespace `http://www.egem.nl/StUF/StUF0301`):
//!   the same in both editions.
//!
//! Reading goes through [`crate::adapter::xml::read_tree`], the guards every
//! XML reader of loket shares (size, UTF-8, no DTD, no entities, depth),
//! and then checks what the envelope's schema demands of the fields loket
//! uses, so a caller gets a clear refusal instead of a half-read envelope.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::adapter::xml::{Element, XmlError, read_tree};

pub const NS_0310: &str = "http://www.stufstandaarden.nl/sectormodel/ggk/0210";
pub const NS_0210: &str = "http://www.stufstandaarden.nl/koppelvlak/ggk0210";
pub const NS_STUF: &str = "http://www.egem.nl/StUF/StUF0301";
pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const NS_XMIME: &str = "http://www.w3.org/2005/05/xmlmime";

/// The most bytes a message in an envelope may have: the exchange's 25 MB,
/// read as MiB (the larger reading, so loket never refuses what the
/// exchange carries).
pub const MAX_PAYLOAD: usize = 25 * 1024 * 1024;

/// The most bytes an envelope may have: a payload of [`MAX_PAYLOAD`] as
/// base64 (a third larger) and room for the SOAP and StUF elements around
/// it. Anything larger is refused before it is read.
pub const MAX_ENVELOPE: usize = MAX_PAYLOAD / 3 * 4 + 64 * 1024;

/// Nesting the envelope needs (SOAP, envelope, parameters, bericht, file,
/// and a Fo01's detailsXML), with room to spare.
const MAX_DEPTH: usize = 32;

/// The schema edition of a GGk envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
pub enum Edition {
    /// StUF-GGk 03.10 (sectormodel namespace, `bericht` with base64 text).
    #[serde(rename = "0310")]
    V0310,
    /// StUF-GGk 02.10 patch 4 (koppelvlak namespace, `xmlBestand`).
    #[serde(rename = "0210")]
    V0210,
}

impl Edition {
    pub fn parse(s: &str) -> Option<Edition> {
        match s {
            "0310" => Some(Edition::V0310),
            "0210" => Some(Edition::V0210),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Edition::V0310 => "0310",
            Edition::V0210 => "0210",
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            Edition::V0310 => NS_0310,
            Edition::V0210 => NS_0210,
        }
    }

    fn of_namespace(ns: &str) -> Option<Edition> {
        match ns {
            NS_0310 => Some(Edition::V0310),
            NS_0210 => Some(Edition::V0210),
            _ => None,
        }
    }
}

/// The three messages of the GGk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Heenbericht (301, 305, 315, 323, ...).
    Di01,
    /// Retourbericht (302, 306, 316, 325, ...), answering a Di01.
    Du01,
    /// Error: the message named by crossRefnummer was refused.
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

    /// The SOAPAction of the WSDL's operation for this message.
    pub fn soap_action(self, edition: Edition) -> String {
        match self {
            Kind::Di01 => format!("{}/ggk_Di01", edition.namespace()),
            Kind::Du01 => format!("{}/ggk_Du01", edition.namespace()),
            Kind::Fo01 => format!("{NS_STUF}/Fo01"),
        }
    }

    fn root(self) -> &'static str {
        match self {
            Kind::Di01 => "envelopHeenbericht-ggk_Di01",
            Kind::Du01 => "envelopRetourbericht-ggk_Du01",
            Kind::Fo01 => "Fo01Bericht",
        }
    }
}

/// A zender or ontvanger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Systeem {
    pub organisatie: String,
    pub applicatie: String,
}

/// The stuurgegevens loket reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuurgegevens {
    pub kind: Kind,
    pub zender: Systeem,
    pub ontvanger: Systeem,
    pub referentienummer: String,
    /// `yyyyMMddHHmmss` (the schema allows 8 to 17 digits).
    pub tijdstip_bericht: String,
    /// The referentienummer of the message this one answers (Du01, Fo01).
    pub cross_refnummer: Option<String>,
    /// `WMO301`, `JW325`, ... (Di01, Du01).
    pub functie: Option<String>,
}

/// The parameters of a Di01 or Du01 and the message they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bericht {
    pub applicatie_versie: String,
    pub applicatie_subversie: String,
    pub functie_versie: String,
    pub functie_subversie: String,
    /// The file name the sender gave (0310: `StUF:bestandsnaam`; 0210:
    /// `tekstBestand/@bestandsnaam`).
    pub bestandsnaam: Option<String>,
    /// Sent as `tekstBestand` (0210) or with a non-XML content type.
    pub text: bool,
    /// The message itself, decoded.
    pub inhoud: Vec<u8>,
}

/// The body of a Fo01.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fout {
    pub code: String,
    /// `client` (the sender must change something) or `server`.
    pub plek: String,
    pub omschrijving: String,
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Bericht(Bericht),
    Fout(Fout),
}

/// One envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The edition of a Di01/Du01; `None` for a Fo01 (one namespace for both).
    pub edition: Option<Edition>,
    pub stuurgegevens: Stuurgegevens,
    pub body: Body,
}

impl Envelope {
    pub fn kind(&self) -> Kind {
        self.stuurgegevens.kind
    }

    /// The SOAPAction it is sent with.
    pub fn soap_action(&self) -> String {
        self.kind()
            .soap_action(self.edition.unwrap_or(Edition::V0310))
    }
}

/// Why an envelope cannot be used: answered with a SOAP fault, nothing is
/// stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("{}", .0)]
    Xml(XmlError),
    #[error("{en}")]
    Invalid { nl: String, en: String },
}

impl EnvelopeError {
    fn invalid(nl: impl Into<String>, en: impl Into<String>) -> EnvelopeError {
        EnvelopeError::Invalid {
            nl: nl.into(),
            en: en.into(),
        }
    }

    /// Dutch, for the fault string and a person reading it.
    pub fn nl(&self) -> String {
        match self {
            EnvelopeError::Xml(e) => e.nl(),
            EnvelopeError::Invalid { nl, .. } => nl.clone(),
        }
    }

    /// Dutch and English in one line.
    pub fn bilingual(&self) -> String {
        format!("{} / {self}", self.nl())
    }
}

impl From<XmlError> for EnvelopeError {
    fn from(e: XmlError) -> EnvelopeError {
        EnvelopeError::Xml(e)
    }
}

/// Reads the envelope inside a SOAP 1.1 `Envelope/Body`.
pub fn decode_soap(input: &[u8]) -> Result<Envelope, EnvelopeError> {
    let root = read_tree(input, MAX_ENVELOPE, MAX_DEPTH)?;
    if root.namespace != NS_SOAP || root.name != "Envelope" {
        return Err(EnvelopeError::invalid(
            format!(
                "root-element {} is geen SOAP 1.1-Envelope",
                qualified(&root)
            ),
            format!(
                "root element {} is not a SOAP 1.1 Envelope",
                qualified(&root)
            ),
        ));
    }
    let body = root
        .children
        .iter()
        .find(|c| c.namespace == NS_SOAP && c.name == "Body")
        .ok_or_else(|| {
            EnvelopeError::invalid(
                "de SOAP-Envelope heeft geen Body",
                "the SOAP Envelope has no Body",
            )
        })?;
    let mut parts = body.children.iter();
    let (Some(inner), None) = (parts.next(), parts.next()) else {
        return Err(EnvelopeError::invalid(
            "de SOAP-Body moet precies één bericht bevatten",
            "the SOAP Body must hold exactly one message",
        ));
    };
    decode_element(inner)
}

/// Reads a bare envelope (its root is the Di01, Du01 or Fo01 element).
pub fn decode(input: &[u8]) -> Result<Envelope, EnvelopeError> {
    decode_element(&read_tree(input, MAX_ENVELOPE, MAX_DEPTH)?)
}

fn qualified(e: &Element) -> String {
    if e.namespace.is_empty() {
        e.name.clone()
    } else {
        format!("{{{}}}{}", e.namespace, e.name)
    }
}

/// Reads the Di01, Du01 or Fo01 element `e`.
pub fn decode_element(e: &Element) -> Result<Envelope, EnvelopeError> {
    let (edition, kind) = match (Edition::of_namespace(&e.namespace), e.name.as_str()) {
        (Some(ed), "envelopHeenbericht-ggk_Di01") => (Some(ed), Kind::Di01),
        (Some(ed), "envelopRetourbericht-ggk_Du01") => (Some(ed), Kind::Du01),
        (None, "Fo01Bericht") if e.namespace == NS_STUF => (None, Kind::Fo01),
        _ => {
            return Err(EnvelopeError::invalid(
                format!(
                    "{} is geen GGk-envelop (Di01, Du01) of StUF-Fo01",
                    qualified(e)
                ),
                format!(
                    "{} is not a GGk envelope (Di01, Du01) or a StUF Fo01",
                    qualified(e)
                ),
            ));
        }
    };
    let ns = e.namespace.as_str();
    let sg = child(e, ns, "stuurgegevens")?;
    let stuurgegevens = stuurgegevens(sg, kind, edition)?;
    let body = match kind {
        Kind::Fo01 => Body::Fout(fout(child(e, NS_STUF, "body")?)?),
        Kind::Di01 | Kind::Du01 => Body::Bericht(bericht(
            child(e, ns, "parameters")?,
            edition.unwrap_or(Edition::V0310),
        )?),
    };
    Ok(Envelope {
        edition,
        stuurgegevens,
        body,
    })
}

fn missing(name: &str) -> EnvelopeError {
    EnvelopeError::invalid(
        format!("element {name} ontbreekt of is leeg"),
        format!("element {name} is missing or empty"),
    )
}

fn child<'a>(e: &'a Element, ns: &str, name: &str) -> Result<&'a Element, EnvelopeError> {
    e.children
        .iter()
        .find(|c| c.name == name && c.namespace == ns)
        .ok_or_else(|| missing(name))
}

/// The trimmed text of child `name` (StUF namespace), not empty, at most
/// `max` characters.
fn text(e: &Element, name: &str, max: usize) -> Result<String, EnvelopeError> {
    let v = child(e, NS_STUF, name)?.text.trim();
    if v.is_empty() {
        return Err(missing(name));
    }
    if v.chars().count() > max {
        return Err(EnvelopeError::invalid(
            format!("{name} is langer dan {max} tekens"),
            format!("{name} is longer than {max} characters"),
        ));
    }
    Ok(v.to_string())
}

fn systeem(e: &Element, name: &str) -> Result<Systeem, EnvelopeError> {
    let s = child(e, NS_STUF, name)?;
    Ok(Systeem {
        organisatie: text(s, "organisatie", 200)
            .map_err(|_| missing(&format!("{name}/organisatie")))?,
        applicatie: text(s, "applicatie", 50)
            .map_err(|_| missing(&format!("{name}/applicatie")))?,
    })
}

fn stuurgegevens(
    sg: &Element,
    kind: Kind,
    edition: Option<Edition>,
) -> Result<Stuurgegevens, EnvelopeError> {
    let code = text(sg, "berichtcode", 10)?;
    if code != kind.as_str() {
        return Err(EnvelopeError::invalid(
            format!("berichtcode {code:?} hoort niet bij {}", kind.root()),
            format!("berichtcode {code:?} does not belong to {}", kind.root()),
        ));
    }
    let referentienummer = text(sg, "referentienummer", 40)?;
    let tijdstip_bericht = text(sg, "tijdstipBericht", 17)?;
    if tijdstip_bericht.len() < 8 || !tijdstip_bericht.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EnvelopeError::invalid(
            "tijdstipBericht is geen tijdstip (8 tot 17 cijfers)",
            "tijdstipBericht is not a timestamp (8 to 17 digits)",
        ));
    }
    let cross_refnummer = match kind {
        Kind::Di01 => None,
        Kind::Du01 | Kind::Fo01 => Some(text(sg, "crossRefnummer", 40)?),
    };
    // The 0210 edition demands UUIDs v4; what loket keeps as the exchange's
    // identifiers must in any case be usable as one.
    if edition == Some(Edition::V0210) {
        for (name, v) in [
            ("referentienummer", Some(&referentienummer)),
            ("crossRefnummer", cross_refnummer.as_ref()),
        ] {
            if let Some(v) = v
                && !is_uuid_v4(v)
            {
                return Err(EnvelopeError::invalid(
                    format!("{name} {v:?} is geen UUID versie 4"),
                    format!("{name} {v:?} is not a version 4 UUID"),
                ));
            }
        }
    }
    let functie = match kind {
        Kind::Fo01 => None,
        Kind::Di01 | Kind::Du01 => Some(text(sg, "functie", 30)?),
    };
    Ok(Stuurgegevens {
        kind,
        zender: systeem(sg, "zender")?,
        ontvanger: systeem(sg, "ontvanger")?,
        referentienummer,
        tijdstip_bericht,
        cross_refnummer,
        functie,
    })
}

/// Lowercase hexadecimal UUID of version 4, as the 0210 schema's pattern.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

fn versienr(p: &Element, ns: &str, name: &str) -> Result<String, EnvelopeError> {
    let v = child(p, ns, name)?.text.trim();
    if v.len() != 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EnvelopeError::invalid(
            format!("{name} {v:?} is geen versienummer van 4 cijfers"),
            format!("{name} {v:?} is not a 4-digit version number"),
        ));
    }
    Ok(v.to_string())
}

fn bericht(p: &Element, edition: Edition) -> Result<Bericht, EnvelopeError> {
    let ns = edition.namespace();
    let b = child(p, ns, "bericht")?;
    let (file, bestandsnaam, text) = match edition {
        Edition::V0310 => {
            let content_type = b.attribute("contentType").unwrap_or("application/xml");
            (
                b,
                b.attribute("bestandsnaam").map(str::to_string),
                !content_type.contains("xml"),
            )
        }
        Edition::V0210 => match (
            b.children
                .iter()
                .find(|c| c.name == "xmlBestand" && c.namespace == ns),
            b.children
                .iter()
                .find(|c| c.name == "tekstBestand" && c.namespace == ns),
        ) {
            (Some(x), _) => (x, None, false),
            (None, Some(t)) => (t, t.attribute("bestandsnaam").map(str::to_string), true),
            (None, None) => return Err(missing("bericht/xmlBestand")),
        },
    };
    Ok(Bericht {
        applicatie_versie: versienr(p, ns, "applicatieVersie")?,
        applicatie_subversie: versienr(p, ns, "applicatieSubversie")?,
        functie_versie: versienr(p, ns, "functieVersie")?,
        functie_subversie: versienr(p, ns, "functieSubversie")?,
        bestandsnaam,
        text,
        inhoud: base64(&file.text)?,
    })
}

/// Decodes base64 text, white space (line breaks) ignored, refusing more
/// than [`MAX_PAYLOAD`] bytes.
fn base64(text: &str) -> Result<Vec<u8>, EnvelopeError> {
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    if clean.is_empty() {
        return Err(missing("bericht"));
    }
    if clean.len() / 4 * 3 > MAX_PAYLOAD {
        return Err(EnvelopeError::invalid(
            format!("het bericht is groter dan {MAX_PAYLOAD} bytes"),
            format!("the message is larger than {MAX_PAYLOAD} bytes"),
        ));
    }
    STANDARD.decode(&clean).map_err(|e| {
        EnvelopeError::invalid(
            format!("het bericht is geen geldige base64: {e}"),
            format!("the message is not valid base64: {e}"),
        )
    })
}

fn fout(b: &Element) -> Result<Fout, EnvelopeError> {
    let details = child(b, NS_STUF, "details")
        .ok()
        .map(|d| d.text.trim().to_string())
        .filter(|d| !d.is_empty());
    Ok(Fout {
        code: text(b, "code", 7)?,
        plek: text(b, "plek", 6)?,
        omschrijving: text(b, "omschrijving", 200)?,
        details,
    })
}

// ---------------------------------------------------------------------------
// Writing.

/// Escapes text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Shortens `s` to at most `max` characters (a schema's maxLength).
fn at_most(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn write_systeem(out: &mut String, name: &str, s: &Systeem) {
    let _ = write!(
        out,
        "<StUF:{name}><StUF:organisatie>{}</StUF:organisatie><StUF:applicatie>{}</StUF:applicatie></StUF:{name}>",
        esc(&at_most(&s.organisatie, 200)),
        esc(&at_most(&s.applicatie, 50)),
    );
}

fn write_stuurgegevens(out: &mut String, prefix: &str, sg: &Stuurgegevens) {
    let _ = write!(
        out,
        "<{prefix}:stuurgegevens><StUF:berichtcode>{}</StUF:berichtcode>",
        sg.kind.as_str()
    );
    write_systeem(out, "zender", &sg.zender);
    write_systeem(out, "ontvanger", &sg.ontvanger);
    let _ = write!(
        out,
        "<StUF:referentienummer>{}</StUF:referentienummer><StUF:tijdstipBericht>{}</StUF:tijdstipBericht>",
        esc(&sg.referentienummer),
        esc(&sg.tijdstip_bericht)
    );
    if let Some(c) = &sg.cross_refnummer {
        let _ = write!(out, "<StUF:crossRefnummer>{}</StUF:crossRefnummer>", esc(c));
    }
    if let Some(f) = &sg.functie {
        let _ = write!(out, "<StUF:functie>{}</StUF:functie>", esc(&at_most(f, 30)));
    }
    let _ = write!(out, "</{prefix}:stuurgegevens>");
}

/// The envelope as a document of its own (its root the Di01, Du01 or
/// Fo01 element), as the schemas validate it.
pub fn encode(env: &Envelope) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    encode_into(&mut out, env);
    out
}

/// The envelope in a SOAP 1.1 Envelope, as it is posted.
pub fn encode_soap(env: &Envelope) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{NS_SOAP}\"><soap:Body>"
    );
    encode_into(&mut out, env);
    out.push_str("</soap:Body></soap:Envelope>");
    out
}

/// A document already written (a Fo01 stored in the outbox) in a SOAP 1.1
/// Envelope; its XML declaration, if any, is left out.
pub fn wrap_soap(document: &str) -> String {
    let inner = document.trim_start_matches('\u{feff}').trim_start();
    let inner = match inner.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(inner, |(_, r)| r.trim_start()),
        None => inner,
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{NS_SOAP}\"><soap:Body>{inner}</soap:Body></soap:Envelope>"
    )
}

fn encode_into(out: &mut String, env: &Envelope) {
    let sg = &env.stuurgegevens;
    match &env.body {
        Body::Fout(f) => {
            let _ = write!(out, "<StUF:Fo01Bericht xmlns:StUF=\"{NS_STUF}\">");
            write_stuurgegevens(out, "StUF", sg);
            let _ = write!(
                out,
                "<StUF:body><StUF:code>{}</StUF:code><StUF:plek>{}</StUF:plek><StUF:omschrijving>{}</StUF:omschrijving>",
                esc(&at_most(&f.code, 7)),
                esc(&f.plek),
                esc(&at_most(&f.omschrijving, 200)),
            );
            if let Some(d) = &f.details {
                let _ = write!(
                    out,
                    "<StUF:details>{}</StUF:details>",
                    esc(&at_most(d, 1000))
                );
            }
            out.push_str("</StUF:body></StUF:Fo01Bericht>");
        }
        Body::Bericht(b) => {
            let edition = env.edition.unwrap_or(Edition::V0310);
            let root = sg.kind.root();
            let _ = write!(
                out,
                "<GGK:{root} xmlns:GGK=\"{}\" xmlns:StUF=\"{NS_STUF}\"",
                edition.namespace()
            );
            if edition == Edition::V0310 {
                let _ = write!(out, " xmlns:xmime=\"{NS_XMIME}\"");
            }
            out.push('>');
            write_stuurgegevens(out, "GGK", sg);
            let _ = write!(
                out,
                "<GGK:parameters><GGK:applicatieVersie>{}</GGK:applicatieVersie><GGK:applicatieSubversie>{}</GGK:applicatieSubversie>\
                 <GGK:functieVersie>{}</GGK:functieVersie><GGK:functieSubversie>{}</GGK:functieSubversie>",
                esc(&b.applicatie_versie),
                esc(&b.applicatie_subversie),
                esc(&b.functie_versie),
                esc(&b.functie_subversie),
            );
            let data = STANDARD.encode(&b.inhoud);
            let name = b
                .bestandsnaam
                .clone()
                .unwrap_or_else(|| format!("{}.xml", sg.functie.as_deref().unwrap_or("bericht")));
            match edition {
                Edition::V0310 => {
                    let _ = write!(
                        out,
                        "<GGK:bericht StUF:bestandsnaam=\"{}\" xmime:contentType=\"{}\">{data}</GGK:bericht>",
                        esc(&name),
                        if b.text {
                            "text/plain"
                        } else {
                            "application/xml"
                        },
                    );
                }
                Edition::V0210 if b.text => {
                    let _ = write!(
                        out,
                        "<GGK:bericht><GGK:tekstBestand bestandsnaam=\"{}\">{data}</GGK:tekstBestand></GGK:bericht>",
                        esc(&name)
                    );
                }
                Edition::V0210 => {
                    let _ = write!(
                        out,
                        "<GGK:bericht><GGK:xmlBestand>{data}</GGK:xmlBestand></GGK:bericht>"
                    );
                }
            }
            let _ = write!(out, "</GGK:parameters></GGK:{root}>");
        }
    }
}

/// A SOAP 1.1 fault (`soap:Client`: the caller must change what it sent;
/// `soap:Server`: loket could not take it now, sending again may work).
pub fn fault(client: bool, nl: &str, en: &str) -> String {
    let code = if client { "soap:Client" } else { "soap:Server" };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{NS_SOAP}\"><soap:Body><soap:Fault>\
         <faultcode>{code}</faultcode><faultstring xml:lang=\"nl\">{} / {}</faultstring>\
         </soap:Fault></soap:Body></soap:Envelope>",
        esc(nl),
        esc(en)
    )
}

/// What a SOAP fault an answer holds says: whether it is the caller's
/// (`Client`) and its faultstring. `None` when the answer is no fault.
pub fn read_fault(answer: &[u8]) -> Option<(bool, String)> {
    let root = read_tree(answer, 1024 * 1024, MAX_DEPTH).ok()?;
    let body = root.children.iter().find(|c| c.name == "Body")?;
    let f = body.children.iter().find(|c| c.name == "Fault")?;
    let code = f.value("faultcode").unwrap_or_default();
    let client = code
        .rsplit(':')
        .next()
        .is_some_and(|c| c.starts_with("Client"));
    Some((
        client,
        f.value("faultstring").unwrap_or_default().to_string(),
    ))
}

/// `tijdstipBericht` as `yyyyMMddHHmmss`, in UTC: the schema names no time
/// zone, and a UTC time is never ambiguous (Amsterdam's local time repeats
/// an hour when winter time starts).
pub fn tijdstip(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%d%H%M%S").to_string()
}
