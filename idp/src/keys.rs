//! The IdP's own key pairs: generation, and loading them back from the data folder.
//!
//! Keys are RSA-3072 (CR-1 asks for at least 2048; 3072 keeps the margin NIST SP 800-57 gives
//! for use beyond 2030) with self-signed X.509 certificates signed with SHA-256. Production
//! deployments toward NemLog-in replace them with OCES3 certificates (MD-7); self-signed ones
//! are what an embedded first start can offer.

use chrono::Utc;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};

/// RSA modulus size for generated keys.
pub const RSA_BITS: u32 = 3072;
/// Smallest RSA key Portner accepts when loading (CR-1).
pub const MIN_RSA_BITS: u32 = 2048;
/// Validity of generated self-signed certificates: three years, a common rollover period.
const CERTIFICATE_DAYS: u32 = 3 * 365;

/// Why a key pair could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM text is not a key or certificate.
    #[error("{0}: not a valid PEM key or certificate")]
    Malformed(&'static str),
    /// The key is weaker than Portner accepts.
    #[error("{0}: RSA key shorter than {MIN_RSA_BITS} bits")]
    TooWeak(&'static str),
    /// The certificate does not belong to the private key.
    #[error("{0}: the certificate does not match the private key")]
    Mismatch(&'static str),
    /// OpenSSL failed while generating.
    #[error("key generation failed: {0}")]
    Library(#[from] openssl::error::ErrorStack),
}

/// A private key and its certificate. `Debug` shows only the certificate fingerprint.
#[derive(Clone)]
pub struct KeyPair {
    /// The private key.
    pub private_key: PKey<Private>,
    /// The matching certificate.
    pub certificate: X509,
}

impl KeyPair {
    /// The pair as the SAML response builder uses it for signing.
    pub fn signing_key(&self) -> crate::saml::response::SigningKey {
        crate::saml::response::SigningKey {
            key: self.private_key.clone(),
            certificate: self.certificate.clone(),
        }
    }

    /// Generates an RSA-3072 key and a self-signed certificate whose subject is
    /// `CN=<common_name>`.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn generate(common_name: &str) -> Result<Self, KeyError> {
        Self::generate_rsa(RSA_BITS, common_name)
    }

    /// Like [`Self::generate`] with a chosen modulus size, for peers and benchmarks that
    /// compare at RSA-2048 (performance.md §3).
    ///
    /// # Errors
    ///
    /// OpenSSL failed, or `bits` is below [`MIN_RSA_BITS`].
    pub fn generate_rsa(bits: u32, common_name: &str) -> Result<Self, KeyError> {
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooWeak("generated key"));
        }
        let private_key = PKey::from_rsa(Rsa::generate(bits)?)?;
        let certificate = self_signed_certificate(&private_key, common_name)?;
        Ok(Self {
            private_key,
            certificate,
        })
    }

    /// Loads a key pair from PEM, checking that the certificate belongs to the key and the key
    /// is strong enough. `label` names the pair in errors.
    ///
    /// # Errors
    ///
    /// The PEM is malformed, the key is too weak, or the two do not match.
    pub fn from_pem(
        label: &'static str,
        key_pem: &[u8],
        certificate_pem: &[u8],
    ) -> Result<Self, KeyError> {
        let private_key =
            PKey::private_key_from_pem(key_pem).map_err(|_| KeyError::Malformed(label))?;
        let certificate =
            X509::from_pem(certificate_pem).map_err(|_| KeyError::Malformed(label))?;
        if private_key
            .rsa()
            .is_ok_and(|rsa| rsa.size() * 8 < MIN_RSA_BITS)
        {
            return Err(KeyError::TooWeak(label));
        }
        let public_key = certificate
            .public_key()
            .map_err(|_| KeyError::Malformed(label))?;
        if !public_key.public_eq(&private_key) {
            return Err(KeyError::Mismatch(label));
        }
        Ok(Self {
            private_key,
            certificate,
        })
    }

    /// A new certificate for this key, when the key survived but its certificate was lost.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn recertify(private_key: PKey<Private>, common_name: &str) -> Result<Self, KeyError> {
        let certificate = self_signed_certificate(&private_key, common_name)?;
        Ok(Self {
            private_key,
            certificate,
        })
    }

    /// The private key as PKCS#8 PEM. Write it only to a file of mode 0600.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn private_key_pem(&self) -> Result<Vec<u8>, KeyError> {
        Ok(self.private_key.private_key_to_pem_pkcs8()?)
    }

    /// The certificate as PEM.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn certificate_pem(&self) -> Result<Vec<u8>, KeyError> {
        Ok(self.certificate.to_pem()?)
    }

    /// SHA-256 of the certificate's DER encoding, as lowercase hex.
    pub fn fingerprint(&self) -> String {
        self.certificate
            .digest(MessageDigest::sha256())
            .map(hex::encode)
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KeyPair")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

fn self_signed_certificate(
    private_key: &PKey<Private>,
    common_name: &str,
) -> Result<X509, KeyError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", common_name)?;
    let name = name.build();

    let mut serial = BigNum::new()?;
    serial.rand(159, MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;

    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(private_key)?;
    // Backdate by a day so that relying parties with a slow clock accept it at once.
    let not_before = Asn1Time::from_unix(Utc::now().timestamp() - 86_400)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(Asn1Time::days_from_now(CERTIFICATE_DAYS)?.as_ref())?;
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    let key_identifier = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
    builder.append_extension(key_identifier)?;
    builder.sign(private_key, MessageDigest::sha256())?;
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_round_trips_through_pem_and_is_rsa_3072() {
        let pair = KeyPair::generate("Portner test").unwrap();

        let loaded = KeyPair::from_pem(
            "test",
            &pair.private_key_pem().unwrap(),
            &pair.certificate_pem().unwrap(),
        )
        .unwrap();

        assert_eq!(loaded.fingerprint(), pair.fingerprint());
        assert_eq!(loaded.private_key.bits(), RSA_BITS);
        assert!(!format!("{loaded:?}").contains("PRIVATE"));
    }

    #[test]
    fn certificate_of_another_key_is_refused() {
        let first = KeyPair::generate("first").unwrap();
        let second = KeyPair::generate("second").unwrap();

        let mixed = KeyPair::from_pem(
            "mixed",
            &first.private_key_pem().unwrap(),
            &second.certificate_pem().unwrap(),
        );

        assert!(matches!(mixed, Err(KeyError::Mismatch("mixed"))));
    }
}
