//! A tenant's connection to VECOZO: which environment, its systeemcertificaat,
//! the roots it trusts, and how often it asks for new messages and statuses.
//!
//! ```toml
//! [[vsp]]
//! tenant = "12345678"              # the AGB code the certificate is issued to
//! environment = "tst"              # tst | acc | prd | a base URL
//! pkcs12 = "/etc/loket/vecozo/12345678.p12"
//! password_env = "LOKET_VSP_PASSWORD_12345678"
//! # or: certificate = ".../chain.pem" and key = ".../key.pem"
//! ca = ["/etc/loket/vecozo/roots.pem"]   # empty: the system's roots
//! ```
//!
//! The password is read from the environment when loket starts and never
//! stored in a field that is printed: a configuration dump or a log line
//! cannot carry it.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Deserialize;

/// VECOZO's environments, or any base URL (a proxy, the tests' counterpart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// Test: fictitious personal data only.
    Test,
    /// Acceptance: fictitious personal data only.
    Acceptance,
    Production,
    Base(String),
}

impl Environment {
    /// `tst`, `acc`, `prd` or an `https://` base URL (the part before
    /// `/berichten/...`). Plain HTTP is refused: the exchange is reached
    /// with a client certificate, which only means something over TLS.
    pub fn parse(s: &str) -> Result<Environment, String> {
        Ok(match s {
            "tst" => Environment::Test,
            "acc" => Environment::Acceptance,
            "prd" => Environment::Production,
            url if url.starts_with("https://") && url.len() > "https://".len() => {
                if url.contains(char::is_whitespace) || url.contains('@') || url.contains('?') {
                    return Err(format!(
                        "{url:?} is geen bruikbare basis-URL / is not a usable base URL"
                    ));
                }
                Environment::Base(url.trim_end_matches('/').to_string())
            }
            other => {
                return Err(format!(
                    "VSP-omgeving {other:?} is geen tst, acc, prd of https-URL / VSP environment {other:?} is not tst, acc, prd or an https URL"
                ));
            }
        })
    }

    /// The base the three services hang under.
    pub fn base(&self) -> String {
        match self {
            Environment::Test => "https://tst-api.vecozo.nl/tst/berichtenservice".into(),
            Environment::Acceptance => "https://tst-api.vecozo.nl/acc/berichtenservice".into(),
            Environment::Production => "https://api.vecozo.nl/berichtenservice".into(),
            Environment::Base(b) => b.clone(),
        }
    }
}

/// `POST` here to push.
pub fn push_url(base: &str) -> String {
    format!("{base}/berichten/rest-push/v1/berichten")
}

/// `GET` the list here; `{traceerId}/payload` and `DELETE {traceerId}` below it.
pub fn pull_url(base: &str) -> String {
    format!("{base}/berichten/rest-pull/v1/berichten")
}

/// `GET ?traceerId=` here.
pub fn status_url(base: &str) -> String {
    format!("{base}/berichtstatus/rest-pull/v3/berichtstatussen")
}

/// One `[[vsp]]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VspConfig {
    /// The tenant (AGB code or gemeentecode) the certificate belongs to.
    pub tenant: String,
    /// Where this tenant pulls from, asks statuses at, and pushes its
    /// retours to: `tst`, `acc`, `prd` or a base URL.
    pub environment: String,
    /// PEM file with the certificate, then its chain.
    pub certificate: Option<PathBuf>,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// PKCS#12 file with key and chain (instead of certificate and key).
    pub pkcs12: Option<PathBuf>,
    /// Environment variable holding the PKCS#12 password.
    pub password_env: Option<String>,
    /// PEM files with the roots to trust; empty: the system's roots.
    #[serde(default)]
    pub ca: Vec<PathBuf>,
    /// Seconds between two pulls when the last one found nothing.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// Longest wait between pulls while VECOZO is unreachable (the wait
    /// doubles from `poll_interval_secs` up to this).
    #[serde(default = "default_max_backoff")]
    pub max_backoff_secs: u64,
    /// Messages asked for per pull; VECOZO gives at most 250.
    #[serde(default = "default_batch")]
    pub batch: u32,
    /// Seconds between two rounds of status checks.
    #[serde(default = "default_status")]
    pub status_interval_secs: u64,
    /// Whole-request timeout (a 25 MB payload on a slow line included).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Pull at all (a tenant that only pushes through this connection, or
    /// whose incoming messages another system takes, says false).
    #[serde(default = "yes")]
    pub pull: bool,
}

fn default_poll() -> u64 {
    60
}
fn default_max_backoff() -> u64 {
    900
}
fn default_batch() -> u32 {
    250
}
fn default_status() -> u64 {
    60
}
/// Below the outbox's default lease (120 s): a push still waiting for its
/// answer must not be taken over by another worker.
fn default_timeout() -> u64 {
    100
}
fn yes() -> bool {
    true
}

impl VspConfig {
    /// Everything that can be checked without touching files.
    pub fn check(&self) -> Result<Environment> {
        crate::store::TenantKind::from_id(&self.tenant)?;
        let env = Environment::parse(&self.environment).map_err(anyhow::Error::msg)?;
        let section = format!("[[vsp]] {}", self.tenant);
        crate::transport::tls::Source {
            section: &section,
            certificate: self.certificate.as_ref(),
            key: self.key.as_ref(),
            pkcs12: self.pkcs12.as_ref(),
            password_env: self.password_env.as_deref(),
            ca: &self.ca,
        }
        .check()?;
        if !(1..=250).contains(&self.batch) {
            bail!("[[vsp]] {}: batch is 1..250", self.tenant);
        }
        if self.poll_interval_secs == 0 || self.status_interval_secs == 0 || self.timeout_secs == 0
        {
            bail!(
                "[[vsp]] {}: intervals and timeout must be at least 1 second",
                self.tenant
            );
        }
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_resolve_to_vecozos_bases() {
        assert_eq!(
            push_url(&Environment::parse("prd").unwrap().base()),
            "https://api.vecozo.nl/berichtenservice/berichten/rest-push/v1/berichten"
        );
        assert_eq!(
            pull_url(&Environment::parse("acc").unwrap().base()),
            "https://tst-api.vecozo.nl/acc/berichtenservice/berichten/rest-pull/v1/berichten"
        );
        assert_eq!(
            status_url(&Environment::parse("tst").unwrap().base()),
            "https://tst-api.vecozo.nl/tst/berichtenservice/berichtstatus/rest-pull/v3/berichtstatussen"
        );
        assert_eq!(
            Environment::parse("https://127.0.0.1:9/berichtenservice/").unwrap(),
            Environment::Base("https://127.0.0.1:9/berichtenservice".into())
        );
        assert!(Environment::parse("http://vecozo.example").is_err());
        assert!(Environment::parse("https://user:pw@host").is_err());
        assert!(Environment::parse("test").is_err());
    }
}
