//! The mutual-TLS client a tenant reaches VECOZO with: its systeemcertificaat
//! and the roots it trusts, read and built by [`crate::transport::tls`]
//! (shared with the StUF transport).
//!
//! VECOZO knows a caller only by its certificate (one per AGB code, from
//! registered addresses), so the client is built once per tenant at start.

use std::time::Duration;

use anyhow::Result;

use super::config::VspConfig;
pub use crate::transport::tls::Identity;
use crate::transport::tls::{self as shared, Source};

/// Where `cfg` keeps its certificate.
fn source<'a>(cfg: &'a VspConfig, section: &'a str) -> Source<'a> {
    Source {
        section,
        certificate: cfg.certificate.as_ref(),
        key: cfg.key.as_ref(),
        pkcs12: cfg.pkcs12.as_ref(),
        password_env: cfg.password_env.as_deref(),
        ca: &cfg.ca,
    }
}

/// Reads the tenant's systeemcertificaat.
pub fn identity(cfg: &VspConfig) -> Result<Identity> {
    let section = format!("[[vsp]] {}", cfg.tenant);
    shared::identity(&source(cfg, &section))
}

/// The HTTP client of one tenant (see [`shared::client`]).
pub fn client(cfg: &VspConfig, identity: Identity) -> Result<reqwest::Client> {
    let section = format!("[[vsp]] {}", cfg.tenant);
    shared::client(
        &source(cfg, &section),
        identity,
        Duration::from_secs(cfg.timeout_secs),
    )
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::transport::vsp::config::VspConfig;

    /// A self-signed certificate for `cn` with its key, as PEM.
    fn self_signed(cn: &str) -> (String, String, Vec<u8>, Vec<u8>) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        (
            cert.pem(),
            key.serialize_pem(),
            cert.der().to_vec(),
            key.serialize_der(),
        )
    }

    fn config(dir: &std::path::Path) -> VspConfig {
        toml::from_str::<VspConfig>(&format!(
            "tenant = \"12345678\"\nenvironment = \"tst\"\nca = [{:?}]\n",
            dir.join("ca.pem")
        ))
        .expect("section")
    }

    #[test]
    fn a_pem_identity_loads_and_a_foreign_key_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key, _, _) = self_signed("12345678");
        let (_, other_key, _, _) = self_signed("87654321");
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), &key).unwrap();
        std::fs::write(dir.path().join("other.pem"), &other_key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), &cert).unwrap();
        let mut cfg = config(dir.path());
        cfg.certificate = Some(dir.path().join("cert.pem"));
        cfg.key = Some(dir.path().join("key.pem"));
        let id = identity(&cfg).expect("identity");
        assert_eq!(id.chain.len(), 1);
        assert!(!format!("{id:?}").contains("PRIVATE"));
        client(&cfg, id).expect("client");
        cfg.key = Some(dir.path().join("other.pem"));
        let e = format!(
            "{:#}",
            client(&cfg, identity(&cfg).expect("id")).unwrap_err()
        );
        assert!(e.contains("do not match"), "{e}");
        cfg.key = Some(dir.path().join("missing.pem"));
        let e = format!("{:#}", identity(&cfg).unwrap_err());
        assert!(e.contains("missing.pem"), "{e}");
    }

    #[test]
    fn a_pkcs12_password_comes_from_the_environment_and_never_shows() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, _, cert_der, key_der) = self_signed("12345678");
        std::fs::write(dir.path().join("ca.pem"), &cert).unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(
            "12345678",
            p12_keystore::PrivateKey::from_der(&key_der).expect("key"),
            [p12_keystore::Certificate::from_der(&cert_der).expect("cert")],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "12345678",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        std::fs::write(
            dir.path().join("id.p12"),
            store.writer("juist-wachtwoord").write().expect("p12"),
        )
        .unwrap();
        let mut cfg = config(dir.path());
        cfg.pkcs12 = Some(dir.path().join("id.p12"));
        // PATH is set wherever tests run but is not the password: the file
        // does not open, and the error names the file, never the value.
        cfg.password_env = Some("PATH".into());
        let e = format!("{:#}", identity(&cfg).unwrap_err());
        assert!(e.contains("id.p12") && e.contains("wrong password"), "{e}");
        let path = std::env::var("PATH").unwrap_or_default();
        assert!(path.is_empty() || !e.contains(&path), "{e}");
        cfg.password_env = Some("LOKET_TEST_NO_SUCH_PASSWORD_VARIABLE".into());
        let e = format!("{:#}", identity(&cfg).unwrap_err());
        assert!(
            e.contains("LOKET_TEST_NO_SUCH_PASSWORD_VARIABLE") && e.contains("not set"),
            "{e}"
        );
    }
}
