//! Test PKI for the simulator (mitid-erhverv-idm-api.md §9.1): a throw-away CA, a server
//! certificate for `localhost`, and one client "system certificate" per simulated
//! organisation, generated at start.
//!
//! The organisation is carried as `O=NTRDK-<cvr>`, modelled on the organizationIdentifier of
//! OCES3 certificates; real certificate contents are not public (§11).

use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509NameBuilder, X509Ref};

/// The password of the generated PKCS#12 files; test material only.
pub const PKCS12_PASSWORD: &str = "simulator";

/// A certificate with its key, PEM-encoded.
#[derive(Clone)]
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: Vec<u8>,
    /// The private key, PKCS#8 PEM.
    pub key_pem: Vec<u8>,
    /// Certificate and key as PKCS#12 with [`PKCS12_PASSWORD`].
    pub pkcs12_der: Vec<u8>,
    pub(crate) cert: X509,
    pub(crate) key: PKey<Private>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Issued(<certificate and key>)")
    }
}

/// A CA that issues server and client certificates.
#[derive(Clone, Debug)]
pub struct TestCa {
    /// The CA certificate and key.
    pub root: Issued,
}

/// Why generating or writing test certificates failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// OpenSSL refused.
    #[error("certificate generation failed: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// Writing the files failed.
    #[error("writing certificates failed: {0}")]
    Io(#[from] std::io::Error),
}

fn new_key() -> Result<PKey<Private>, CertError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

fn serial() -> Result<openssl::asn1::Asn1Integer, CertError> {
    let mut number = BigNum::new()?;
    number.rand(120, MsbOption::MAYBE_ZERO, false)?;
    Ok(number.to_asn1_integer()?)
}

fn finish(cert: X509, key: PKey<Private>, name: &str) -> Result<Issued, CertError> {
    let pkcs12_der = Pkcs12::builder()
        .name(name)
        .pkey(&key)
        .cert(&cert)
        .build2(PKCS12_PASSWORD)?
        .to_der()?;
    Ok(Issued {
        cert_pem: cert.to_pem()?,
        key_pem: key.private_key_to_pem_pkcs8()?,
        pkcs12_der,
        cert,
        key,
    })
}

impl TestCa {
    /// A fresh CA valid for 30 days.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn generate(common_name: &str) -> Result<Self, CertError> {
        let key = new_key()?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
        let name = name.build();
        let mut builder = X509::builder()?;
        builder.set_version(2)?;
        let serial_number = serial()?;
        builder.set_serial_number(&serial_number)?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&key)?;
        let not_before = Asn1Time::days_from_now(0)?;
        builder.set_not_before(&not_before)?;
        let not_after = Asn1Time::days_from_now(30)?;
        builder.set_not_after(&not_after)?;
        builder.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        builder.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        builder.sign(&key, MessageDigest::sha256())?;
        Ok(Self {
            root: finish(builder.build(), key, common_name)?,
        })
    }

    fn leaf(&self, subject: &[(Nid, &str)], server_names: &[&str]) -> Result<Issued, CertError> {
        let key = new_key()?;
        let mut name = X509NameBuilder::new()?;
        for (nid, value) in subject {
            name.append_entry_by_nid(*nid, value)?;
        }
        let name = name.build();
        let mut builder = X509::builder()?;
        builder.set_version(2)?;
        let serial_number = serial()?;
        builder.set_serial_number(&serial_number)?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(self.root.cert.subject_name())?;
        builder.set_pubkey(&key)?;
        let not_before = Asn1Time::days_from_now(0)?;
        builder.set_not_before(&not_before)?;
        let not_after = Asn1Time::days_from_now(30)?;
        builder.set_not_after(&not_after)?;
        builder.append_extension(BasicConstraints::new().build()?)?;
        builder.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
        if server_names.is_empty() {
            builder.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        } else {
            let mut san = SubjectAlternativeName::new();
            for server in server_names {
                if server.parse::<std::net::IpAddr>().is_ok() {
                    san.ip(server);
                } else {
                    san.dns(server);
                }
            }
            let context = builder.x509v3_context(Some(&self.root.cert), None);
            let san = san.build(&context)?;
            builder.append_extension(san)?;
            builder.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        }
        builder.sign(&self.root.key, MessageDigest::sha256())?;
        let label = subject.first().map_or("leaf", |(_, value)| *value);
        finish(builder.build(), key, label)
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn server(&self) -> Result<Issued, CertError> {
        self.leaf(
            &[(Nid::COMMONNAME, "localhost")],
            &["localhost", "127.0.0.1"],
        )
    }

    /// A client system certificate for the organisation `cvr`.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn client(&self, cvr: &str) -> Result<Issued, CertError> {
        let organisation = format!("NTRDK-{cvr}");
        self.leaf(
            &[
                (Nid::COMMONNAME, "Portner simulator system certificate"),
                (Nid::ORGANIZATIONNAME, &organisation),
            ],
            &[],
        )
    }
}

/// The CVR a client certificate names in `O=NTRDK-<cvr>`, if any.
pub fn organisation_of(cert: &X509Ref) -> Option<String> {
    let entry = cert
        .subject_name()
        .entries_by_nid(Nid::ORGANIZATIONNAME)
        .next()?;
    let text = entry.data().to_string().ok()?;
    text.strip_prefix("NTRDK-").map(str::to_owned)
}

/// Writes `ca.pem`, `server.pem`/`server.key` and `client-<cvr>.{pem,key,p12}` into `folder`.
///
/// # Errors
///
/// The folder could not be written.
pub fn write_folder(
    folder: &Path,
    ca: &TestCa,
    server: &Issued,
    clients: &[(String, Issued)],
) -> Result<(), CertError> {
    std::fs::create_dir_all(folder)?;
    std::fs::write(folder.join("ca.pem"), &ca.root.cert_pem)?;
    std::fs::write(folder.join("server.pem"), &server.cert_pem)?;
    std::fs::write(folder.join("server.key"), &server.key_pem)?;
    for (cvr, client) in clients {
        std::fs::write(folder.join(format!("client-{cvr}.pem")), &client.cert_pem)?;
        std::fs::write(folder.join(format!("client-{cvr}.key")), &client.key_pem)?;
        std::fs::write(folder.join(format!("client-{cvr}.p12")), &client.pkcs12_der)?;
    }
    Ok(())
}
