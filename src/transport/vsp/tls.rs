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
