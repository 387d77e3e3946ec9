//! The WebAuthn relying party over webauthn-rs 0.6.2, and server-side ceremony state (W1-W12).
//!
//! webauthn-rs checks origin (W1), rpIdHash (W2), type (W3), user presence (W5), signatures
//! and flags (W7). What it leaves to the relying party is done here: the ceremony state lives
//! only in the store, is taken and deleted in one statement before the library sees the
//! response, and expires after five minutes, so a challenge is answered at most once (W4);
//! counter regressions are detected against the stored counter (W6); credential IDs are
//! unique across users by the table's primary key (W8).
//!
//! Known deviation: the library's passkey ceremonies require user verification, stricter than
//! the "preferred". A security key without a PIN therefore asks the user to set one.

use chrono::{DateTime, Duration, Utc};
use portner_shared::domain::{User, WebAuthnCeremony, WebAuthnCredential};
use portner_shared::store::Tx;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    AuthenticationResult, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::{SignInError, random_hex, session::hash_id};

/// How long a ceremony may take (W4: at most five minutes).
const CEREMONY_MINUTES: i64 = 5;
/// The largest WebAuthn response accepted, in bytes; real ones are a few kilobytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The longest credential ID accepted (W8).
const MAX_CREDENTIAL_ID_BYTES: usize = 1023;

/// Why a WebAuthn step was refused; the code goes to the audit trail.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Refusal {
    /// No such ceremony: never started, already finished (a replay), or for someone else.
    UnknownCeremony,
    /// The ceremony outlived its five minutes.
    Expired,
    /// The response is not valid JSON of the expected shape, or too large.
    Malformed,
    /// The library refused the response for a reason not named below (type, signature,
    /// attestation, an unknown credential).
    Invalid,
    /// The signed client data names another challenge: a response to an older or foreign
    /// ceremony (W4).
    ChallengeMismatch,
    /// The client data names another origin than Portner's public URL (W1).
    WrongOrigin,
    /// The authenticator data was made for another relying party ID (W2).
    WrongRelyingParty,
    /// The user-presence flag is not set: nobody touched the authenticator (W5).
    UserNotPresent,
    /// The user-verification flag is not set although Portner requires it.
    UserNotVerified,
    /// The signature counter went backwards: possibly a cloned authenticator.
    CounterRegressed,
    /// The credential is flagged as possibly cloned.
    Flagged,
    /// The credential ID is already registered (W8).
    Duplicate,
}

impl Refusal {
    /// The refusal for an error of webauthn-rs, as specific as the audit trail can use: an
    /// auditor reading `ORIGIN_MISMATCH` or `USER_NOT_PRESENT` learns what was attempted.
    fn from_library(error: WebauthnError) -> Self {
        match error {
            WebauthnError::CredentialPossibleCompromise => Self::CounterRegressed,
            WebauthnError::MismatchedChallenge => Self::ChallengeMismatch,
            WebauthnError::InvalidRPOrigin | WebauthnError::CredentialCrossOrigin => {
                Self::WrongOrigin
            }
            WebauthnError::InvalidRPIDHash => Self::WrongRelyingParty,
            WebauthnError::UserNotPresent => Self::UserNotPresent,
            WebauthnError::UserNotVerified => Self::UserNotVerified,
            _ => Self::Invalid,
        }
    }

    /// The stable code for the audit trail.
    pub const fn code(self) -> &'static str {
        match self {
            Self::UnknownCeremony => "CEREMONY_UNKNOWN_OR_REPLAYED",
            Self::Expired => "CEREMONY_EXPIRED",
            Self::Malformed => "RESPONSE_MALFORMED",
            Self::Invalid => "RESPONSE_INVALID",
            Self::ChallengeMismatch => "CHALLENGE_MISMATCH",
            Self::WrongOrigin => "ORIGIN_MISMATCH",
            Self::WrongRelyingParty => "RP_ID_MISMATCH",
            Self::UserNotPresent => "USER_NOT_PRESENT",
            Self::UserNotVerified => "USER_NOT_VERIFIED",
            Self::CounterRegressed => "COUNTER_REGRESSED",
            Self::Flagged => "CREDENTIAL_FLAGGED",
            Self::Duplicate => "CREDENTIAL_DUPLICATE",
        }
    }
}

/// A verified assertion and the ID of the credential that made it.
pub type Assertion = (AuthenticationResult, Vec<u8>);
/// A refusal, with the credential to flag when the counter regressed.
pub type Refused = (Refusal, Option<Vec<u8>>);

/// The relying party: one per installation, from the public URL.
#[derive(Clone)]
pub struct RelyingParty {
    webauthn: std::sync::Arc<Webauthn>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RelyingParty")
    }
}

impl RelyingParty {
    /// The relying party for `public_url`: its host is the RP ID, its origin the only origin
    /// accepted (W1, W12).
    ///
    /// # Errors
    ///
    /// [`SignInError::Internal`] if the URL is neither https nor http on localhost.
    pub fn new(public_url: &Url) -> Result<Self, SignInError> {
        let rp_id = public_url
            .host_str()
            .ok_or_else(|| SignInError::Internal("public_url has no host".to_owned()))?;
        let webauthn = WebauthnBuilder::new(rp_id, public_url)
            .and_then(|builder| builder.rp_name("Portner").build())
            .map_err(|error| {
                SignInError::Internal(format!(
                    "public_url cannot be a WebAuthn origin (https, or http://localhost): {error}"
                ))
            })?;
        Ok(Self {
            webauthn: std::sync::Arc::new(webauthn),
        })
    }

    /// Starts registering a credential for `user`, excluding the ones they already have.
    /// Returns the browser's options (JSON) and the state to store.
    ///
    /// # Errors
    ///
    /// [`SignInError::Internal`] if the library or serialisation failed.
    pub fn start_registration(
        &self,
        user: &User,
        existing: &[WebAuthnCredential],
    ) -> Result<(String, String), SignInError> {
        let exclude = existing
            .iter()
            .map(|credential| credential.credential_id.clone())
            .collect::<Vec<_>>();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                *user.id.as_uuid(),
                user.username.as_str(),
                &user.display_name,
                Some(exclude),
            )
            .map_err(|error| SignInError::Internal(format!("webauthn: {error}")))?;
        Ok((to_json(&options)?, to_json(&state)?))
    }

    /// Checks a registration response against the stored state.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] naming why.
    pub fn finish_registration(
        &self,
        state_json: &str,
        response: &str,
    ) -> Result<Passkey, Refusal> {
        let state: PasskeyRegistration =
            serde_json::from_str(state_json).map_err(|_| Refusal::Malformed)?;
        let response: RegisterPublicKeyCredential = parse_response(response)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&response, &state)
            .map_err(Refusal::from_library)?;
        let credential_id: &[u8] = passkey.cred_id().as_ref();
        if credential_id.len() > MAX_CREDENTIAL_ID_BYTES {
            return Err(Refusal::Invalid);
        }
        Ok(passkey)
    }

    /// Starts an assertion over `credentials` (the user's unflagged credentials become
    /// `allowCredentials`). Returns the options (JSON) and the state to store.
    ///
    /// # Errors
    ///
    /// [`SignInError::Internal`] if a stored credential is damaged or the library failed.
    pub fn start_authentication(
        &self,
        credentials: &[WebAuthnCredential],
    ) -> Result<(String, String), SignInError> {
        let passkeys = credentials
            .iter()
            .map(|credential| {
                serde_json::from_str::<Passkey>(&credential.credential_json)
                    .map_err(|error| SignInError::Internal(format!("stored credential: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|error| SignInError::Internal(format!("webauthn: {error}")))?;
        Ok((to_json(&options)?, to_json(&state)?))
    }

    /// Checks an assertion against the stored state and the credential's stored counter.
    /// Returns the result and the credential ID the response names.
    ///
    /// # Errors
    ///
    /// A [`Refusal`]; for [`Refusal::CounterRegressed`] the second value names the credential
    /// to flag.
    pub fn finish_authentication(
        &self,
        state_json: &str,
        response: &str,
        credentials: &[WebAuthnCredential],
    ) -> Result<Assertion, Refused> {
        let state: PasskeyAuthentication =
            serde_json::from_str(state_json).map_err(|_| (Refusal::Malformed, None))?;
        let response: PublicKeyCredential =
            parse_response(response).map_err(|refusal| (refusal, None))?;
        let raw_id: &[u8] = response.raw_id.as_ref();
        let credential_id = raw_id.to_vec();
        let result = self
            .webauthn
            .finish_passkey_authentication(&response, &state)
            .map_err(|error| (Refusal::from_library(error), Some(credential_id.clone())))?;

        // W6: the library compares with the counter captured when the ceremony started; a
        // sign-in finished in between may have moved the stored counter, so compare again.
        let stored_counter = credentials
            .iter()
            .find(|credential| credential.credential_id == credential_id)
            .and_then(|credential| stored_counter(&credential.credential_json));
        let Some(stored) = stored_counter else {
            return Err((Refusal::Invalid, None));
        };
        let new = result.counter();
        if (new > 0 || stored > 0) && new <= stored {
            return Err((Refusal::CounterRegressed, Some(credential_id)));
        }
        Ok((result, credential_id))
    }
}

/// The signature counter a stored passkey holds (`cred.counter` in the library's JSON; the
/// typed field is behind the `danger-credential-internals` feature).
fn stored_counter(credential_json: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(credential_json).ok()?;
    let counter = value.get("cred")?.get("counter")?.as_u64()?;
    u32::try_from(counter).ok()
}

fn parse_response<T: for<'de> Deserialize<'de>>(response: &str) -> Result<T, Refusal> {
    if response.len() > MAX_RESPONSE_BYTES {
        return Err(Refusal::Malformed);
    }
    serde_json::from_str(response).map_err(|_| Refusal::Malformed)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, SignInError> {
    serde_json::to_string(value).map_err(|error| SignInError::Internal(error.to_string()))
}

/// Stores a ceremony's state and returns the random handle the page carries back.
///
/// # Errors
///
/// The store or random source failed.
pub async fn store_ceremony(
    tx: &mut Tx,
    user: &User,
    purpose: &str,
    state_json: String,
    context_json: String,
    now: DateTime<Utc>,
) -> Result<String, SignInError> {
    tx.delete_expired_webauthn_ceremonies(now).await?;
    let handle = random_hex::<32>()?;
    let ceremony = WebAuthnCeremony {
        handle_hash: hash_id(&handle),
        user_id: user.id,
        purpose: purpose.to_owned(),
        state_json,
        context_json,
        expires_at: now + Duration::minutes(CEREMONY_MINUTES),
    };
    tx.insert_webauthn_ceremony(&ceremony).await?;
    Ok(handle)
}

/// Takes a ceremony out of the store: it is deleted whatever happens next (W4). Refuses an
/// unknown handle, another purpose, or an expired one.
///
/// # Errors
///
/// `Ok(Err(refusal))` for a refused ceremony; `Err` if the store failed.
pub async fn take_ceremony(
    tx: &mut Tx,
    handle: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<Result<WebAuthnCeremony, Refusal>, SignInError> {
    if handle.len() != 64 {
        return Ok(Err(Refusal::UnknownCeremony));
    }
    let Some(ceremony) = tx.take_webauthn_ceremony(&hash_id(handle)).await? else {
        return Ok(Err(Refusal::UnknownCeremony));
    };
    if ceremony.purpose != purpose {
        return Ok(Err(Refusal::UnknownCeremony));
    }
    if ceremony.expires_at <= now {
        return Ok(Err(Refusal::Expired));
    }
    Ok(Ok(ceremony))
}

/// Stores a credential's state after a verified assertion: its new signature counter, so the
/// next assertion is compared with it (W6).
///
/// # Errors
///
/// [`SignInError::Internal`] for a damaged stored credential; store failures.
pub(crate) async fn record_use(
    tx: &mut Tx,
    credential: &WebAuthnCredential,
    result: &AuthenticationResult,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    let mut passkey: Passkey = serde_json::from_str(&credential.credential_json)
        .map_err(|error| SignInError::Internal(format!("stored credential: {error}")))?;
    passkey.update_credential(result);
    let updated = serde_json::to_string(&passkey)
        .map_err(|error| SignInError::Internal(error.to_string()))?;
    tx.record_webauthn_use(&credential.credential_id, &updated, now)
        .await?;
    Ok(())
}
