//! The certificates of the exchange, for every transport that reaches it
//! with mutual TLS (VECOZO's VSP-Koppeling, the municipality's StUF leg):
//! a key and its chain (PEM files, or a PKCS#12 file whose password comes
//! from the environment), the roots trusted, the client built from them,
//! and, for a listener, a server configuration that demands a client
//! certificate chaining to those roots.
//!
//! A party on the exchange is known only by its certificate, so all of
//! this is read once at start: a certificate that cannot be read stops
//! loket with the file named, instead of every delivery failing later.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Where a section of the configuration keeps its certificate: the fields
/// `[[vsp]]` and `[[stuf]]` share.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The section as a person finds it in the file (`[[vsp]] 12345678`).
    pub section: &'a str,
    pub certificate: Option<&'a PathBuf>,
    pub key: Option<&'a PathBuf>,
    pub pkcs12: Option<&'a PathBuf>,
    pub password_env: Option<&'a str>,
    pub ca: &'a [PathBuf],
}

impl Source<'_> {
    /// Exactly one of pkcs12 (with its password variable) or certificate
    /// and key.
    pub fn check(&self) -> Result<()> {
        match (self.pkcs12, self.certificate, self.key) {
            (Some(_), None, None) => {
                if self.password_env.is_none() {
                    bail!(
                        "{}: pkcs12 heeft password_env nodig / pkcs12 needs password_env",
                        self.section
                    );
                }
                Ok(())
            }
            (None, Some(_), Some(_)) => Ok(()),
            _ => bail!(
                "{}: geef pkcs12 of certificate en key / give pkcs12, or certificate and key",
                self.section
            ),
        }
    }
}

/// A key and its certificate chain, leaf first.
#[derive(Clone)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for Identity {
    // The key never appears in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Reads the section's certificate and key.
pub fn identity(src: &Source<'_>) -> Result<Identity> {
    if let Some(p12) = src.pkcs12 {
        let env = src
            .password_env
            .ok_or_else(|| anyhow!("{}: pkcs12 needs password_env", src.section))?;
        let password = std::env::var(env).map_err(|_| {
            anyhow!(
                "{}: omgevingsvariabele {env} met het wachtwoord is niet gezet / environment variable {env} with the password is not set",
                src.section
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
            key: Arc::new(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                chain.key().as_der().to_vec(),
            ))),
        });
    }
    let (Some(cert), Some(key)) = (src.certificate, src.key) else {
        bail!("{}: give pkcs12, or certificate and key", src.section);
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
    Ok(Identity {
        chain,
        key: Arc::new(key),
    })
}

/// The roots to trust: the configured PEM files, or (`system`) the
/// system's when none are configured.
pub fn roots(src: &Source<'_>, system: bool) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    if src.ca.is_empty() && system {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // A system root rustls cannot use is skipped, as browsers do.
            let _ = store.add(cert);
        }
    } else {
        for path in src.ca {
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
            "{}: geen CA-certificaten om te vertrouwen / no CA certificates to trust",
            src.section
        );
    }
    Ok(store)
}

/// The HTTP client of one section: its certificate offered to the server,
/// only the configured roots trusted (the system's when none are named),
/// no redirects (a redirected POST could arrive as a GET or somewhere the
/// configuration never named).
pub fn client(src: &Source<'_>, identity: Identity, timeout: Duration) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots(src, true)?)
        .with_client_auth_cert(identity.chain, identity.key.clone_key())
        .with_context(|| {
            format!(
                "{}: sleutel en certificaat horen niet bij elkaar / key and certificate do not match",
                src.section
            )
        })?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(15)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("loket/", env!("CARGO_PKG_VERSION")))
        .build()
        .with_context(|| format!("{}: cannot build the HTTP client", src.section))
}

/// A listener's TLS configuration: `identity` presented as the server's
/// certificate, and a client certificate demanded that chains to the
/// section's `ca` (never the system's roots: any web server's certificate
/// would otherwise be let in). The handshake itself refuses a caller
/// without one, before a byte of HTTP is read.
pub fn server(src: &Source<'_>, identity: Identity) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(src, false)?),
        provider.clone(),
    )
    .build()
    .with_context(|| format!("{}: client certificate verifier", src.section))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain, identity.key.clone_key())
        .with_context(|| {
            format!(
                "{}: sleutel en certificaat horen niet bij elkaar / key and certificate do not match",
                src.section
            )
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
