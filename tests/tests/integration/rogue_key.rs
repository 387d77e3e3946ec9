//! A software authenticator that misbehaves on purpose, for the WebAuthn checks a well-behaved
//! authenticator cannot exercise: an assertion without the user-presence or user-verification
//! flag (W5), one made for another relying party ID (W2), or one whose client data claims to
//! be a registration (W3). Each is signed correctly with the registered key, so what refuses
//! it is the server's check of that one property, not a broken signature.
//!
//! webauthn-authenticator-rs's soft passkey always sets user presence and derives the rpIdHash
//! from the options, and keeps its private keys to itself; this key builds the `none`
//! attestation and the assertions by hand (WebAuthn Level 2, §6.1 authenticator data, §6.5.4
//! `none` attestation, §7.2 step 20 signature input) with an OpenSSL P-256 key.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::{MessageDigest, hash};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{Value, json};

/// User present (bit 0), user verified (bit 2), attested credential data included (bit 6).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

/// What is wrong with an assertion.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Flaw {
    /// Nothing: a correct assertion, to show the key itself is sound.
    None,
    /// The user-presence flag is cleared (user verification still set).
    NoUserPresence,
    /// The user-verification flag is cleared: a key without PIN or biometrics.
    NoUserVerification,
    /// The authenticator data carries the SHA-256 of this relying party ID instead.
    OtherRelyingParty(&'static str),
    /// The client data says `webauthn.create` although this is an assertion.
    RegistrationType,
}

/// A P-256 credential held in the test, with its own signature counter.
pub(crate) struct RogueKey {
    key: PKey<Private>,
    credential_id: Vec<u8>,
    counter: u32,
}

impl RogueKey {
    pub(crate) fn new() -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut credential_id = vec![0_u8; 32];
        openssl::rand::rand_bytes(&mut credential_id).unwrap();
        Self {
            key,
            credential_id,
            counter: 0,
        }
    }

    /// The registration response (JSON) to the creation options `options` (JSON), with a
    /// `none` attestation.
    pub(crate) fn register(&self, options: &str, origin: &str) -> String {
        let options: Value = serde_json::from_str(options).unwrap();
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().unwrap();
        let challenge = public_key["challenge"].as_str().unwrap();
        let client_data = client_data("webauthn.create", challenge, origin);

        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(FLAG_UP | FLAG_UV | FLAG_AT);
        auth_data.extend_from_slice(&0_u32.to_be_bytes());
        auth_data.extend_from_slice(&[0_u8; 16]);
        let id_length = u16::try_from(self.credential_id.len()).unwrap();
        auth_data.extend_from_slice(&id_length.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_public_key());

        json!({
            "id": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "rawId": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(none_attestation(&auth_data)),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            },
        })
        .to_string()
    }

    /// An assertion (JSON) answering the request options `options` (JSON), with `flaw`.
    pub(crate) fn assert(&mut self, options: &str, origin: &str, flaw: Flaw) -> String {
        let options: Value = serde_json::from_str(options).unwrap();
        let public_key = &options["publicKey"];
        let challenge = public_key["challenge"].as_str().unwrap();
        let (rp_id, flags, kind) = match flaw {
            Flaw::None => (
                public_key["rpId"].as_str().unwrap(),
                FLAG_UP | FLAG_UV,
                "get",
            ),
            Flaw::NoUserPresence => (public_key["rpId"].as_str().unwrap(), FLAG_UV, "get"),
            Flaw::NoUserVerification => (public_key["rpId"].as_str().unwrap(), FLAG_UP, "get"),
            Flaw::OtherRelyingParty(rp_id) => (rp_id, FLAG_UP | FLAG_UV, "get"),
            Flaw::RegistrationType => {
                let rp_id = public_key["rpId"].as_str().unwrap();
                (rp_id, FLAG_UP | FLAG_UV, "create")
            }
        };
        let client_data = client_data(&format!("webauthn.{kind}"), challenge, origin);

        self.counter += 1;
        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(flags);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let signature = self.sign(&auth_data, &client_data);

        json!({
            "id": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "rawId": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature),
                "userHandle": null,
            },
        })
        .to_string()
    }

    /// The signature over `authenticatorData || SHA-256(clientDataJSON)` (§7.2 step 20).
    fn sign(&self, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        signer.update(auth_data).unwrap();
        signer.update(&sha256(client_data)).unwrap();
        signer.sign_to_vec().unwrap()
    }

    /// The public key as a COSE_Key: EC2, ES256, P-256, x and y (RFC 9053 §7.1.1).
    fn cose_public_key(&self) -> Vec<u8> {
        let ec_key = self.key.ec_key().unwrap();
        let mut context = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec_key
            .public_key()
            .affine_coordinates_gfp(ec_key.group(), &mut x, &mut y, &mut context)
            .unwrap();

        // map(5) {1: 2, 3: -7, -1: 1, -2: bstr(32), -3: bstr(32)}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(&x.to_vec_padded(32).unwrap());
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(&y.to_vec_padded(32).unwrap());
        cose
    }
}

/// `{"fmt": "none", "attStmt": {}, "authData": auth_data}` in CBOR.
fn none_attestation(auth_data: &[u8]) -> Vec<u8> {
    let mut cbor = vec![0xa3];
    cbor.extend_from_slice(&[0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e']);
    cbor.extend_from_slice(&[0x67, b'a', b't', b't', b'S', b't', b'm', b't', 0xa0]);
    cbor.extend_from_slice(&[0x68, b'a', b'u', b't', b'h', b'D', b'a', b't', b'a']);
    let length = u16::try_from(auth_data.len()).unwrap();
    cbor.push(0x59);
    cbor.extend_from_slice(&length.to_be_bytes());
    cbor.extend_from_slice(auth_data);
    cbor
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    hash(MessageDigest::sha256(), bytes).unwrap().to_vec()
}
