//! Field encryption for personal data at rest (CPR numbers).
//!
//! AES-256-GCM with a fresh 96-bit random nonce per value; the stored form is
//! `nonce ‖ ciphertext ‖ tag`. A separate HMAC-SHA256 "lookup hash", keyed by a subkey of the
//! same secret, lets the store find a person by CPR (the sync matches on it) without
//! decrypting every row. The key comes from configuration and never reaches `Debug` or logs.

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rand::rand_bytes;
use openssl::sign::Signer;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// Binds ciphertexts to their purpose, so a CPR ciphertext cannot be moved into another field
/// encrypted under the same key and decrypt there.
const CPR_ASSOCIATED_DATA: &[u8] = b"portner:cpr:v1";
const LOOKUP_LABEL: &[u8] = b"portner:cpr-lookup:v1";

/// Why a field could not be encrypted or decrypted.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key material is not 32 bytes of hex.
    #[error("the key must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    /// The stored value is damaged or was encrypted under another key.
    #[error("a stored value could not be decrypted: damaged, or encrypted under another key")]
    Undecryptable,
    /// OpenSSL failed; not expected with valid inputs.
    #[error("the cryptographic library failed: {0}")]
    Library(#[from] openssl::error::ErrorStack),
}

/// The key that encrypts personal fields.
#[derive(Clone)]
pub struct FieldCipher {
    key: [u8; KEY_BYTES],
}

impl FieldCipher {
    /// Reads a key written as 64 hexadecimal characters (surrounding white space ignored).
    ///
    /// # Errors
    ///
    /// [`CryptoError::BadKey`] if the text is not exactly 32 bytes of hex.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(text.trim()).map_err(|_| CryptoError::BadKey)?;
        let key = <[u8; KEY_BYTES]>::try_from(bytes).map_err(|_| CryptoError::BadKey)?;
        Ok(Self { key })
    }

    /// A fresh random key, written as hex; what `portner serve` stores on first start.
    ///
    /// # Errors
    ///
    /// The system's random source failed.
    pub fn generate_hex() -> Result<String, CryptoError> {
        let mut key = [0_u8; KEY_BYTES];
        rand_bytes(&mut key)?;
        Ok(hex::encode(key))
    }

    /// Encrypts a CPR number (or any short field) for storage.
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn encrypt(&self, plaintext: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0_u8; NONCE_BYTES];
        rand_bytes(&mut nonce)?;
        let mut tag = [0_u8; TAG_BYTES];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            CPR_ASSOCIATED_DATA,
            plaintext.as_bytes(),
            &mut tag,
        )?;

        let mut stored = Vec::with_capacity(NONCE_BYTES + ciphertext.len() + TAG_BYTES);
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&ciphertext);
        stored.extend_from_slice(&tag);
        Ok(stored)
    }

    /// Decrypts a value produced by [`FieldCipher::encrypt`].
    ///
    /// # Errors
    ///
    /// [`CryptoError::Undecryptable`] if the value is truncated, altered or from another key.
    pub fn decrypt(&self, stored: &[u8]) -> Result<String, CryptoError> {
        if stored.len() < NONCE_BYTES + TAG_BYTES {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, rest) = stored.split_at(NONCE_BYTES);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_BYTES);
        let plaintext = decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            CPR_ASSOCIATED_DATA,
            ciphertext,
            tag,
        )
        .map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Undecryptable)
    }

    /// A keyed hash of the value for equality look-ups; equal inputs give equal hashes, and
    /// without the key the hash reveals nothing (a CPR number has too little entropy for a
    /// plain hash to hide it).
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn lookup_hash(&self, plaintext: &str) -> Result<Vec<u8>, CryptoError> {
        let subkey = hmac_sha256(&self.key, LOOKUP_LABEL)?;
        hmac_sha256(&subkey, plaintext.as_bytes())
    }
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("FieldCipher(<key redacted>)")
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = PKey::hmac(key)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(message)?;
    Ok(signer.sign_to_vec()?)
}

/// SHA-256 of `bytes`; used for hashing session identifiers and one-time codes before storage.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(bytes)
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && openssl::memcmp::eq(left, right)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_cipher() -> FieldCipher {
        FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap()
    }

    #[test]
    fn encrypted_fields_round_trip_and_differ_each_time() {
        let cipher = fresh_cipher();

        let first = cipher.encrypt("0101901234").unwrap();
        let second = cipher.encrypt("0101901234").unwrap();

        assert_ne!(first, second, "a nonce was reused");
        assert_eq!(cipher.decrypt(&first).unwrap(), "0101901234");
    }

    #[test]
    fn tampered_or_foreign_ciphertext_is_refused() {
        let cipher = fresh_cipher();
        let mut stored = cipher.encrypt("0101901234").unwrap();

        assert!(
            fresh_cipher().decrypt(&stored).is_err(),
            "another key decrypted it"
        );
        stored[NONCE_BYTES] ^= 1;
        assert!(
            cipher.decrypt(&stored).is_err(),
            "a flipped bit went unnoticed"
        );
        assert!(cipher.decrypt(&stored[..10]).is_err());
    }

    #[test]
    fn lookup_hash_is_stable_per_key_and_differs_between_keys() {
        let cipher = fresh_cipher();

        let hash = cipher.lookup_hash("0101901234").unwrap();

        assert_eq!(hash, cipher.lookup_hash("0101901234").unwrap());
        assert_ne!(hash, fresh_cipher().lookup_hash("0101901234").unwrap());
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex_and_never_print() {
        assert!(FieldCipher::from_hex("abcd").is_err());
        assert!(FieldCipher::from_hex(&"zz".repeat(32)).is_err());
        let key_hex = FieldCipher::generate_hex().unwrap();
        let debug = format!("{:?}", FieldCipher::from_hex(&key_hex).unwrap());
        assert!(!debug.contains(&key_hex[..8]));
    }
}
