//! The mutual-TLS client a tenant reaches VECOZO with: its systeemcertificaat
//! (key and chain, from PEM files or a PKCS#12 file whose password comes from
//! the environment) and the roots it trusts.
//!
//! VECOZO knows a caller only by its certificate (one per AGB code, from
//! registered addresses), so the client is built once per tenant at start:
//! a certificate that cannot be read stops loket with the file named,
//! instead of every push failing later.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::config::VspConfig;

/// A key and its certificate chain, leaf first.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    // The key never appears in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Reads the tenant's systeemcertificaat.
pub fn identity(cfg: &VspConfig) -> Result<Identity> {
    if let Some(p12) = &cfg.pkcs12 {
        let env = cfg
            .password_env
            .as_deref()
            .ok_or_else(|| anyhow!("[[vsp]] {}: pkcs12 needs password_env", cfg.tenant))?;
        let password = std::env::var(env).map_err(|_| {
            anyhow!(
                "[[vsp]] {}: omgevingsvariabele {env} met het wachtwoord is niet gezet / environment variable {env} with the password is not set",
                cfg.tenant
            )
        })?;
        let data = std::fs::read(p12)
            .with_context(|| format!("cannot read PKCS#12 file {}", p12.display()))?;
        let store = p12_keystore::KeyStore::from_pkcs12(
            &data,
            &password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        // The crate's error never includes the password; the file is named.
        .map_err(|e| {
            anyhow!(
                "PKCS#12 {} kan niet worden geopend (wachtwoord of bestand onjuist) / cannot be opened (wrong password or file): {e}",
                p12.display()
            )
        })?;
        let (_, chain) = store.private_key_chain().ok_or_else(|| {
            anyhow!(
                "PKCS#12 {} bevat geen sleutel met certificaat / holds no key with a certificate",
                p12.display()
            )
        })?;
        let certs: Vec<CertificateDer<'static>> = chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect();
        if certs.is_empty() {
            bail!(
                "PKCS#12 {} holds a key without a certificate",
                p12.display()
            );
        }
        return Ok(Identity {
            chain: certs,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())),
        });
    }
    let (Some(cert), Some(key)) = (&cfg.certificate, &cfg.key) else {
        bail!(
            "[[vsp]] {}: give pkcs12, or certificate and key",
            cfg.tenant
        );
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read certificate file {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("certificate file {} is not PEM", cert.display()))?;
    if chain.is_empty() {
        bail!("certificate file {} holds no certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("key file {} holds no usable private key", key.display()))?;
    Ok(Identity { chain, key })
}

/// The roots to trust: the configured PEM files, or the system's.
fn roots(cfg: &VspConfig) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    if cfg.ca.is_empty() {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // A system root rustls cannot use is skipped, as browsers do.
            let _ = store.add(cert);
        }
    } else {
        for path in &cfg.ca {
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read CA file {}", path.display()))?
            {
                let cert =
                    cert.with_context(|| format!("CA file {} is not PEM", path.display()))?;
                store.add(cert).with_context(|| {
                    format!("CA file {} holds an unusable root", path.display())
                })?;
            }
        }
    }
    if store.is_empty() {
        bail!(
            "[[vsp]] {}: geen CA-certificaten om te vertrouwen / no CA certificates to trust",
            cfg.tenant
        );
    }
    Ok(store)
}

/// The HTTP client of one tenant: its certificate offered to the server,
/// only the configured roots trusted, no redirects (a redirected POST could
/// arrive as a GET or somewhere the configuration never named).
pub fn client(cfg: &VspConfig, identity: Identity) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots(cfg)?)
        .with_client_auth_cert(identity.chain, identity.key)
        .with_context(|| {
            format!(
                "[[vsp]] {}: sleutel en certificaat horen niet bij elkaar / key and certificate do not match",
                cfg.tenant
            )
        })?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(cfg.timeout_secs))
        .connect_timeout(Duration::from_secs(cfg.timeout_secs.min(15)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("loket/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the VSP client")
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
