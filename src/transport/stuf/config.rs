//! A municipality's connection to the GGk through its Digikoppeling
//! adapter: the `[[stuf]]` section of loket's configuration.
//!
//! ```toml
//! [[stuf]]
//! tenant = "0363"                            # the municipality (CBS gemeentecode)
//! applicatie = "loket"                       # zender applicatie in what loket writes
//! endpoint = "https://adapter.example/ggk"   # where loket POSTs outgoing envelopes
//! listen = "127.0.0.1:8443"                  # loket's mTLS SOAP listener (path /ggk)
//! certificate = "/etc/loket/ggk/chain.pem"   # or pkcs12 + password_env
//! key = "/etc/loket/ggk/key.pem"
//! ca = ["/etc/loket/ggk/adapter-ca.pem"]     # the adapter's server AND client certificates chain here
//! edition = "0310"                           # or "0210": the edition written unless a mapping says
//! ```
//!
//! One certificate serves both ways: loket presents it to the adapter when
//! it posts, and as the listener's server certificate when the adapter
//! posts to loket. The password of a PKCS#12 file comes from the
//! environment variable `password_env` names, never from the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Deserialize;

use super::envelope::Edition;
use crate::transport::tls::Source;

/// One `[[stuf]]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StufConfig {
    /// The municipality: zender organisatie of what loket writes, and the
    /// ontvanger organisatie every incoming envelope must name.
    pub tenant: String,
    /// Zender applicatie in the envelopes loket writes (3 to 50 characters).
    #[serde(default = "default_applicatie")]
    pub applicatie: String,
    /// The adapter's SOAP endpoint (https) outgoing envelopes are posted to.
    pub endpoint: String,
    /// Where loket's own SOAP listener takes incoming envelopes.
    pub listen: SocketAddr,
    /// PEM file with the certificate, then its chain.
    pub certificate: Option<PathBuf>,
    /// PEM file with the private key.
    pub key: Option<PathBuf>,
    /// PKCS#12 file with key and chain (instead of certificate and key).
    pub pkcs12: Option<PathBuf>,
    /// Environment variable holding the PKCS#12 password.
    pub password_env: Option<String>,
    /// Roots trusted for the adapter's server certificate and for the
    /// client certificates of whoever posts to the listener. Required:
    /// trusting every system root for callers would let any web server's
    /// certificate in.
    pub ca: Vec<PathBuf>,
    /// Edition written when the counterpart's mapping does not say.
    #[serde(default = "default_edition")]
    pub edition: Edition,
    /// Whole-request timeout of a post to the adapter.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_applicatie() -> String {
    "loket".into()
}
fn default_edition() -> Edition {
    Edition::V0310
}
/// Below the outbox's default lease (120 s), like `[[vsp]]`'s.
fn default_timeout() -> u64 {
    100
}

impl StufConfig {
    /// The section as a person finds it in the file.
    pub fn section(&self) -> String {
        format!("[[stuf]] {}", self.tenant)
    }

    /// Where the certificate is.
    pub fn source<'a>(&'a self, section: &'a str) -> Source<'a> {
        Source {
            section,
            certificate: self.certificate.as_ref(),
            key: self.key.as_ref(),
            pkcs12: self.pkcs12.as_ref(),
            password_env: self.password_env.as_deref(),
            ca: &self.ca,
        }
    }

    /// Everything that can be checked without touching files.
    pub fn check(&self) -> Result<()> {
        let section = self.section();
        if crate::store::TenantKind::from_id(&self.tenant)? != crate::store::TenantKind::Gemeente {
            bail!(
                "{section}: tenant is geen gemeentecode (4 cijfers); de GGk is de aansluiting van een gemeente / tenant is not a gemeentecode (4 digits); the GGk is a municipality's connection"
            );
        }
        let len = self.applicatie.chars().count();
        if !(3..=50).contains(&len) {
            bail!("{section}: applicatie is 3 tot 50 tekens / applicatie is 3 to 50 characters");
        }
        let e = &self.endpoint;
        if !e.starts_with("https://")
            || e.len() <= "https://".len()
            || e.contains(char::is_whitespace)
            || e.contains('@')
        {
            bail!(
                "{section}: endpoint {e:?} is geen https-URL / endpoint {e:?} is not an https URL"
            );
        }
        if self.ca.is_empty() {
            bail!(
                "{section}: ca is verplicht (de CA van de adapter) / ca is required (the adapter's CA)"
            );
        }
        if self.timeout_secs == 0 {
            bail!("{section}: timeout_secs must be at least 1");
        }
        self.source(&section).check()
    }
}
