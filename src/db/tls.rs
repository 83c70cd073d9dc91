//! TLS for the `postgres` driver: rustls with the certificate checks of
//! each libpq sslmode, and a record of what failed so the error can say
//! which check it was and how to fix it.
//!
//! [`TlsMaterial::load`] reads the root certificates (`sslrootcert` file or
//! the system store) and the client certificate and key once; it refuses
//! unreadable or empty files and a key file that the group or others may
//! read (libpq's rule). [`TlsMaterial::connector`] builds, per connection
//! attempt, a connector whose certificate verifier checks what
//! [`Verify`] asks (nothing, the chain, or the chain and the host name)
//! and writes into the attempt's [`Report`] what failed. The connector
//! wraps tokio-postgres-rustls's, which brings channel binding
//! (SCRAM-SHA-256-PLUS).

use super::libpq::{ClientCert, Origin, RootCerts, Verify};
use postgres::tls::{MakeTlsConnect, TlsConnect};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A certificate or key file that cannot be used (exit 2: a setting to
/// fix, not a server problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// `sslrootcert=/x`, `PGSSLKEY=/x`, `the default ~/.postgresql/root.crt`.
    pub setting: String,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

fn setting(key: &str, origin: &Origin, path: &Path) -> String {
    match origin {
        Origin::Conninfo => format!("{key}={}", path.display()),
        Origin::Env(var) => format!("{var}={}", path.display()),
        Origin::Default => format!("the default {key} {}", path.display()),
    }
}

/// Root certificates and the client identity, loaded once for every
/// session of a [`super::Database`].
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    provider: Arc<CryptoProvider>,
    roots: Option<Arc<RootCertStore>>,
    /// How the roots were named, for messages.
    roots_name: String,
    client: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    verify: Verify,
}

impl TlsMaterial {
    /// Reads what `roots` and `client` name, for sessions that check
    /// `verify`.
    pub fn load(
        roots: Option<&RootCerts>,
        client: Option<&ClientCert>,
        verify: Verify,
    ) -> Result<TlsMaterial, FileError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (roots, roots_name) = match roots {
            None => (None, String::new()),
            Some(RootCerts::System) => (
                Some(Arc::new(system_roots()?)),
                "sslrootcert=system".to_string(),
            ),
            Some(RootCerts::File { path, origin }) => {
                let name = setting("sslrootcert", origin, path);
                (Some(Arc::new(file_roots(path, &name)?)), name)
            }
        };
        let client = match client {
            None => None,
            Some(c) => Some(client_identity(c)?),
        };
        Ok(TlsMaterial {
            provider,
            roots,
            roots_name,
            client,
            verify,
        })
    }

    /// A connector for one connection attempt; what its handshake and
    /// certificate checks saw is written into the returned report.
    pub fn connector(&self) -> Result<(Connector, Arc<Mutex<Report>>), String> {
        let report = Arc::new(Mutex::new(Report::default()));
        let webpki = match (&self.roots, self.verify) {
            (_, Verify::Nothing) | (None, _) => None,
            (Some(roots), _) => Some(
                WebPkiServerVerifier::builder_with_provider(roots.clone(), self.provider.clone())
                    .build()
                    .map_err(|e| {
                        format!(
                            "cannot use the root certificates of {}: {e}",
                            self.roots_name
                        )
                    })?,
            ),
        };
        let verifier = Verifier {
            verify: if webpki.is_some() {
                self.verify
            } else {
                Verify::Nothing
            },
            webpki,
            provider: self.provider.clone(),
            report: report.clone(),
            roots_name: self.roots_name.clone(),
        };
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let config = match &self.client {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs.clone(), key.clone_key())
                .map_err(|e| {
                    format!("the client certificate and key cannot be used together: {e}")
                })?,
            None => builder.with_no_client_auth(),
        };
        Ok((
            Connector {
                inner: MakeRustlsConnect::new(config),
                report: report.clone(),
            },
            report,
        ))
    }
}

fn read_file(path: &Path, name: &str) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|e| FileError {
        setting: name.to_string(),
        message: format!("cannot read the file: {e}"),
    })
}

fn file_roots(path: &Path, name: &str) -> Result<RootCertStore, FileError> {
    let bytes = read_file(path, name)?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| FileError {
            setting: name.to_string(),
            message: format!("not a PEM certificate file: {e}"),
        })?;
        store.add(cert).map_err(|e| FileError {
            setting: name.to_string(),
            message: format!("a certificate in it cannot be used as a root: {e}"),
        })?;
    }
    if store.is_empty() {
        return Err(FileError {
            setting: name.to_string(),
            message: "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".to_string(),
        });
    }
    Ok(store)
}

fn system_roots() -> Result<RootCertStore, FileError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(FileError {
            setting: "sslrootcert=system".to_string(),
            message: format!(
                "no system root certificates found{why}; install the ca-certificates package, or set SSL_CERT_FILE, or name a CA file with sslrootcert=/path/to/ca.crt"
            ),
        });
    }
    Ok(store)
}

fn client_identity(
    c: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>), FileError> {
    let cert_name = setting("sslcert", &c.cert_origin, &c.cert);
    let key_name = setting("sslkey", &c.key_origin, &c.key);
    let bytes = read_file(&c.cert, &cert_name)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FileError {
            setting: cert_name.clone(),
            message: format!("not a PEM certificate file: {e}"),
        })?;
    if certs.is_empty() {
        return Err(FileError {
            setting: cert_name,
            message: "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".to_string(),
        });
    }
    check_key_permissions(&c.key, &key_name)?;
    let bytes = read_file(&c.key, &key_name)?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| FileError {
        setting: key_name,
        message: format!(
            "no usable private key in the file ({e}); it must be an unencrypted PEM key (PKCS#8, PKCS#1 or SEC1)"
        ),
    })?;
    Ok((certs, Arc::new(key)))
}

/// libpq's rule for the client key file: no group or world access when it
/// belongs to the user; group read at most when it belongs to root.
fn check_key_permissions(path: &Path, name: &str) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|e| FileError {
            setting: name.to_string(),
            message: format!("cannot read the file: {e}"),
        })?;
        if !meta.is_file() {
            return Err(FileError {
                setting: name.to_string(),
                message: "not a plain file".to_string(),
            });
        }
        let mode = meta.mode() & 0o7777;
        let mine = meta.uid() == rustix::process::geteuid().as_raw();
        let bad = if mine {
            mode & 0o077 != 0
        } else {
            meta.uid() == 0 && mode & 0o037 != 0
        };
        if bad {
            return Err(FileError {
                setting: name.to_string(),
                message: format!(
                    "the private key file has group or world access (mode {mode:04o}); it must be u=rw (0600) or less if you own it, u=rw,g=r (0640) or less if root owns it: chmod 0600 {}",
                    path.display()
                ),
            });
        }
    }
    let _ = (path, name);
    Ok(())
}

/// What one connection attempt's TLS saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The handshake was started and failed (with this error).
    pub handshake_failed: Option<String>,
    /// A certificate check failed: which, and how to fix it.
    pub check: Option<CheckFailure>,
}

/// A failed certificate check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckFailure {
    /// The chain does not lead to a trusted root (the CA check).
    Chain { detail: String, roots: String },
    /// The certificate does not name the host (the host name check).
    Host {
        host: String,
        presented: Vec<String>,
    },
}

impl CheckFailure {
    /// The message: which check failed, why, and how to fix it.
    pub fn message(&self) -> String {
        match self {
            CheckFailure::Chain { detail, roots } => format!(
                "the server's certificate failed the CA check ({detail}) against the root certificates of {roots}; set sslrootcert=/path/to/ca.crt (or PGSSLROOTCERT) to the CA that signed the server's certificate, or use sslrootcert=system for a publicly trusted server"
            ),
            CheckFailure::Host { host, presented } => {
                let names = if presented.is_empty() {
                    "no host names".to_string()
                } else {
                    presented
                        .iter()
                        .map(|n| plain_name(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!(
                    "the server's certificate failed the host name check of sslmode=verify-full: it is not valid for '{host}' (it names {names}); connect with a host name the certificate names, or use sslmode=verify-ca to check the CA only"
                )
            }
        }
    }
}

/// `localhost` for rustls's `DnsName("localhost")`, `127.0.0.1` for
/// `IpAddress(127.0.0.1)`: the names as a person writes them.
fn plain_name(presented: &str) -> String {
    match presented.split_once('(') {
        Some((kind, rest)) if kind.chars().all(|c| c.is_ascii_alphabetic()) => rest
            .strip_suffix(')')
            .unwrap_or(rest)
            .trim_matches('"')
            .to_string(),
        _ => presented.to_string(),
    }
}

/// Words for the chain errors people meet.
fn chain_detail(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "it is not signed by any of those certificates".to_string()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "it has expired".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "it is not valid yet".to_string()
            }
            CertificateError::BadSignature => "its signature is invalid".to_string(),
            CertificateError::Revoked => "it has been revoked".to_string(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

#[derive(Debug)]
struct Verifier {
    verify: Verify,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    report: Arc<Mutex<Report>>,
    roots_name: String,
}

impl Verifier {
    fn record(&self, failure: CheckFailure) {
        if let Ok(mut r) = self.report.lock() {
            r.check = Some(failure);
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            // sslmode=require (and allow/prefer) without root certificates:
            // encrypted, the server not authenticated, as libpq.
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the chain first, then the name: a name error means
        // the chain was good.
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Ok(ok) => Ok(ok),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.verify == Verify::Chain => Ok(ServerCertVerified::assertion()),
            Err(e) => {
                let failure = match &e {
                    rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForNameContext { presented, .. },
                    ) => CheckFailure::Host {
                        host: server_name.to_str().into_owned(),
                        presented: presented.clone(),
                    },
                    rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
                        CheckFailure::Host {
                            host: server_name.to_str().into_owned(),
                            presented: Vec::new(),
                        }
                    }
                    other => CheckFailure::Chain {
                        detail: chain_detail(other),
                        roots: self.roots_name.clone(),
                    },
                };
                self.record(failure);
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// tokio-postgres-rustls's connector, recording a failed handshake.
#[derive(Clone)]
pub struct Connector {
    inner: MakeRustlsConnect,
    report: Arc<Mutex<Report>>,
}

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Attempt<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(Attempt {
            inner: MakeTlsConnect::<S>::make_tls_connect(&mut self.inner, domain)?,
            report: self.report.clone(),
        })
    }
}

/// One handshake.
pub struct Attempt<C> {
    inner: C,
    report: Arc<Mutex<Report>>,
}

type BoxedHandshake<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, C> TlsConnect<S> for Attempt<C>
where
    C: TlsConnect<S>,
    C::Future: Send + 'static,
    C::Error: std::fmt::Display,
{
    type Stream = C::Stream;
    type Error = C::Error;
    type Future = BoxedHandshake<C::Stream, C::Error>;

    fn connect(self, stream: S) -> Self::Future {
        let handshake = self.inner.connect(stream);
        let report = self.report;
        Box::pin(async move {
            let result = handshake.await;
            if let Err(e) = &result {
                if let Ok(mut r) = report.lock() {
                    r.handshake_failed = Some(e.to_string());
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};

    struct Ca {
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    fn ca() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn leaf(ca: &Ca, name: &str) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![SanType::DnsName(name.try_into().unwrap())];
        params
            .signed_by(&key, &ca.cert, &ca.key)
            .unwrap()
            .der()
            .clone()
    }

    fn verifier(trusted: &Ca, verify: Verify) -> (Verifier, Arc<Mutex<Report>>) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(trusted.cert.der().clone()).unwrap();
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let report = Arc::new(Mutex::new(Report::default()));
        let v = Verifier {
            verify,
            webpki: (verify != Verify::Nothing).then_some(webpki),
            provider,
            report: report.clone(),
            roots_name: "sslrootcert=/ca.crt".to_string(),
        };
        (v, report)
    }

    fn check(v: &Verifier, cert: &CertificateDer<'_>, host: &str) -> bool {
        let name = ServerName::try_from(host.to_string()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn each_mode_checks_what_libpq_checks_and_records_the_failed_check() {
        let trusted = ca();
        let stranger = ca();
        let good = leaf(&trusted, "db.example");
        let forged = leaf(&stranger, "db.example");

        let (v, report) = verifier(&trusted, Verify::ChainAndHost);
        assert!(check(&v, &good, "db.example"));
        assert!(!check(&v, &good, "127.0.0.1"));
        assert_eq!(
            report.lock().unwrap().check,
            Some(CheckFailure::Host {
                host: "127.0.0.1".to_string(),
                presented: vec!["DnsName(\"db.example\")".to_string()],
            })
        );
        let msg = report.lock().unwrap().check.clone().unwrap().message();
        assert!(
            msg.contains("host name check") && msg.contains("(it names db.example)"),
            "{msg}"
        );
        assert!(!check(&v, &forged, "db.example"));
        let failure = report.lock().unwrap().check.clone().unwrap();
        assert!(matches!(failure, CheckFailure::Chain { .. }), "{failure:?}");
        let msg = failure.message();
        assert!(
            msg.contains("CA check") && msg.contains("sslrootcert=/ca.crt"),
            "{msg}"
        );

        // verify-ca (and require with a root certificate): any host name.
        let (v, _) = verifier(&trusted, Verify::Chain);
        assert!(check(&v, &good, "127.0.0.1"));
        assert!(!check(&v, &forged, "db.example"));

        // require without root certificates: nothing checked.
        let (v, report) = verifier(&trusted, Verify::Nothing);
        assert!(check(&v, &forged, "anything.example"));
        assert_eq!(report.lock().unwrap().check, None);
    }

    #[test]
    fn presented_names_read_as_written() {
        assert_eq!(plain_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("odd name"), "odd name");
    }

    #[cfg(unix)]
    #[test]
    fn files_that_cannot_be_used_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(&key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = check_key_permissions(&key, "sslkey=k").unwrap_err();
        assert!(
            err.to_string().contains("0640") && err.to_string().contains("chmod 0600"),
            "{err}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_key_permissions(&key, "sslkey=k").unwrap();

        let roots = dir.path().join("empty.crt");
        std::fs::write(&roots, "").unwrap();
        let err = file_roots(&roots, "sslrootcert=x").unwrap_err();
        assert!(err.message.contains("no PEM certificate"), "{err}");
        let err = file_roots(&dir.path().join("none"), "sslrootcert=y").unwrap_err();
        assert!(
            err.to_string().starts_with("sslrootcert=y: cannot read"),
            "{err}"
        );
    }
}
