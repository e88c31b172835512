//! TLS for PostgreSQL connections with rustls, following libpq's `sslmode` semantics:
//! `disable`/`allow` connect in plain TCP; `prefer`/`require` encrypt without checking the
//! certificate (unless `sslrootcert` is given with `require`, which libpq treats as `verify-ca`);
//! `verify-ca` checks the chain; `verify-full` checks the chain and the host name.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::connection::{Connection, SslMode};

/// A TLS setup that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The `sslrootcert` file could not be read or holds no certificate.
    #[error("cannot use sslrootcert {path}: {reason}")]
    RootCert {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls rejected the configuration.
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] TlsError),
}

/// Builds the connector for `connection` and sets the matching `sslmode` on its config.
///
/// # Errors
/// When the root certificate file is unusable.
pub fn connector(connection: &mut Connection) -> Result<MakeRustlsConnect, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = roots(connection)?;
    let verifier: Arc<dyn ServerCertVerifier> =
        match (connection.ssl_mode, &connection.ssl_root_cert) {
            (SslMode::VerifyFull, _) => {
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| TlsError::General(e.to_string()))?
            }
            (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Arc::new(ChainOnly {
                inner: WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| TlsError::General(e.to_string()))?,
            }),
            _ => Arc::new(NoVerification {
                provider: provider.clone(),
            }),
        };
    connection.pg.ssl_mode(match connection.ssl_mode {
        SslMode::Disable | SslMode::Allow => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn roots(connection: &Connection) -> Result<Arc<RootCertStore>, TlsSetupError> {
    let mut store = RootCertStore::empty();
    match &connection.ssl_root_cert {
        Some(path) => {
            let error = |reason: String| TlsSetupError::RootCert {
                path: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                store
                    .add(cert.map_err(|e| error(e.to_string()))?)
                    .map_err(|e| error(e.to_string()))?;
            }
            if store.is_empty() {
                return Err(error("no PEM certificate in the file".to_owned()));
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(Arc::new(store))
}

/// `verify-ca`: the chain must be trusted; the name is not checked.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(TlsError::InvalidCertificate(CertificateError::NotValidForName))
            | Err(TlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
                ..
            })) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `prefer`/`require`: encryption without authentication of the server, as libpq does.
#[derive(Debug)]
struct NoVerification {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str) -> Connection {
        Connection::from_url(url).unwrap()
    }

    #[test]
    fn each_sslmode_sets_what_tokio_postgres_negotiates() {
        use tokio_postgres::config::SslMode as Negotiated;
        for (mode, negotiated) in [
            ("disable", Negotiated::Disable),
            ("allow", Negotiated::Disable),
            ("prefer", Negotiated::Prefer),
            ("require", Negotiated::Require),
            ("verify-ca", Negotiated::Require),
            ("verify-full", Negotiated::Require),
        ] {
            let mut connection = connection(&format!("postgres://u@h/d?sslmode={mode}"));
            connector(&mut connection).unwrap();
            assert_eq!(connection.pg.get_ssl_mode(), negotiated, "{mode}");
        }
    }

    #[test]
    fn an_unusable_root_certificate_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let mut absent = connection(&format!(
            "postgres://u@h/d?sslmode=verify-full&sslrootcert={}",
            missing.display()
        ));
        let error = connector(&mut absent).err().unwrap().to_string();
        assert!(error.contains("missing.pem"), "{error}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let mut no_pem = connection(&format!(
            "postgres://u@h/d?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        ));
        let error = connector(&mut no_pem).err().unwrap().to_string();
        assert!(
            error.contains("empty.pem") && error.contains("no PEM certificate"),
            "{error}"
        );
    }
}
