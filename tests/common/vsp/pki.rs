//! A throw-away PKI for the VSP counterpart: a test CA that stands in for the
//! CA behind VECOZO's systeemcertificaten, the server certificate the
//! counterpart presents on loopback, client certificates whose subject CN is
//! the tenant code (as the counterpart takes the caller's identity from it),
//! and a second, foreign CA whose certificates the counterpart must refuse.
//!
//! Keys are generated per test run and only ever written to temp dirs: no key
//! material is committed.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// A CA that can issue certificates.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "loket tests");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("self-signed CA"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn client(&self, code: &str, org: &str) -> ClientCert {
        self.issue(
            code,
            org,
            Vec::new(),
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        )
    }

    /// A certificate for a party that both calls and is called (loket's
    /// StUF listener): valid for 127.0.0.1 and localhost, for server and
    /// client authentication.
    fn service(&self, code: &str, org: &str) -> ClientCert {
        self.issue(
            code,
            org,
            vec!["127.0.0.1".to_string(), "localhost".to_string()],
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
    }

    /// A certificate with subject CN `code`, issued by this CA.
    fn issue(
        &self,
        code: &str,
        org: &str,
        names: Vec<String>,
        usages: Vec<ExtendedKeyUsagePurpose>,
    ) -> ClientCert {
        let mut params = CertificateParams::new(names).expect("certificate params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, code);
        dn.push(DnType::OrganizationName, org);
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = usages;
        let key = KeyPair::generate().expect("certificate key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign certificate");
        let cert_pem = cert.pem();
        ClientCert {
            code: code.to_string(),
            chain_pem: format!("{cert_pem}{}", self.pem()),
            cert_pem,
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            ca_der: self.issuer.der().to_vec(),
        }
    }
}

/// The test CA (trusted by the counterpart) and a foreign CA (not trusted).
pub struct TestPki {
    ca: Ca,
    foreign: Ca,
    server: ServerCert,
}

/// A client certificate as a tenant's systeemcertificaat: CN = tenant code.
#[derive(Clone, Debug)]
pub struct ClientCert {
    /// The tenant code in the subject CN (AGB code or gemeentecode).
    pub code: String,
    /// The leaf certificate alone.
    pub cert_pem: String,
    /// The PKCS#8 private key.
    pub key_pem: String,
    /// The leaf followed by its issuing CA: what a provider gets from VECOZO.
    pub chain_pem: String,
    pub cert_der: Vec<u8>,
    /// PKCS#8.
    pub key_der: Vec<u8>,
    pub ca_der: Vec<u8>,
}

/// Paths of a client certificate written out for loket's configuration.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub chain: PathBuf,
}

/// The counterpart's own certificate, valid for 127.0.0.1 and localhost.
#[derive(Clone, Debug)]
pub struct ServerCert {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl ClientCert {
    /// The identity reqwest presents (leaf + key; the chain is optional in TLS).
    pub fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.chain_pem, self.key_pem).as_bytes())
            .expect("identity from PEM")
    }

    /// Writes `<code>.crt`, `<code>.key` and `<code>-chain.pem` into `dir`, the
    /// files loket's tenant configuration names.
    pub fn write_pem(&self, dir: &Path) -> CertFiles {
        let files = CertFiles {
            cert: dir.join(format!("{}.crt", self.code)),
            key: dir.join(format!("{}.key", self.code)),
            chain: dir.join(format!("{}-chain.pem", self.code)),
        };
        std::fs::write(&files.cert, &self.cert_pem).expect("write cert");
        std::fs::write(&files.key, &self.key_pem).expect("write key");
        std::fs::write(&files.chain, &self.chain_pem).expect("write chain");
        files
    }

    /// Writes `<code>.p12` into `dir`: key, leaf and CA under `password`, the
    /// form in which VECOZO hands out a systeemcertificaat. Made with
    /// p12-keystore (PBES2/AES-256, HMAC-SHA256), the crate loket reads it with.
    pub fn write_pkcs12(&self, dir: &Path, password: &str) -> PathBuf {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let chain = PrivateKeyChain::new(
            self.code.as_str(),
            PrivateKey::from_der(&self.key_der).expect("PKCS#8 key"),
            [
                Certificate::from_der(&self.cert_der).expect("leaf DER"),
                Certificate::from_der(&self.ca_der).expect("CA DER"),
            ],
        );
        let mut store = KeyStore::new();
        store.add_entry(&self.code, KeyStoreEntry::PrivateKeyChain(chain));
        let bytes = store.writer(password).write().expect("PKCS#12");
        let path = dir.join(format!("{}.p12", self.code));
        std::fs::write(&path, bytes).expect("write PKCS#12");
        path
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// Generates both CAs and the server certificate.
    pub fn new() -> Self {
        let ca = Ca::new("loket test systeemcertificaat CA");
        let foreign = Ca::new("foreign CA the counterpart does not trust");
        let params = {
            let mut p =
                CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                    .expect("server params");
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, "vsp counterpart");
            p.distinguished_name = dn;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p
        };
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &ca.issuer).expect("sign server");
        let server = ServerCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        };
        TestPki {
            ca,
            foreign,
            server,
        }
    }

    /// A client certificate from the test CA: the counterpart accepts it and
    /// treats `code` as the caller.
    pub fn client(&self, code: &str, org: &str) -> ClientCert {
        self.ca.client(code, org)
    }

    /// A certificate from the test CA for a party that is called as well
    /// as calling (loket's StUF listener on 127.0.0.1).
    pub fn service(&self, code: &str, org: &str) -> ClientCert {
        self.ca.service(code, org)
    }

    /// A client certificate from the foreign CA: the handshake is refused.
    pub fn foreign_client(&self, code: &str, org: &str) -> ClientCert {
        self.foreign.client(code, org)
    }

    /// The counterpart's server certificate.
    pub fn server_cert(&self) -> &ServerCert {
        &self.server
    }

    /// The test CA: both the root loket must trust for the server and the one
    /// the counterpart checks client certificates against.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    pub fn ca_der(&self) -> Vec<u8> {
        self.ca.issuer.der().to_vec()
    }

    /// The foreign CA's certificate (a root loket must not accept for VECOZO).
    pub fn foreign_ca_pem(&self) -> String {
        self.foreign.pem()
    }

    /// Writes the test CA to `dir/vsp-ca.pem` for loket's "CA roots to trust".
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("vsp-ca.pem");
        std::fs::write(&path, self.ca_pem()).expect("write CA");
        path
    }

    /// A reqwest client that trusts only the test CA and presents `cert`
    /// (or no certificate at all).
    pub fn http_client(&self, cert: Option<&ClientCert>) -> reqwest::Client {
        let root = reqwest::Certificate::from_pem(self.ca_pem().as_bytes()).expect("CA PEM");
        let mut b = reqwest::Client::builder().tls_certs_only([root]);
        if let Some(c) = cert {
            b = b.identity(c.identity());
        }
        b.build().expect("reqwest client")
    }
}
