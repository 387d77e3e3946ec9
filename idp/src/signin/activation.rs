//! Activation with a one-time code (IP-*, AU-5, AU-7, W10).
//!
//! A code is 25 characters from Crockford's base-32 alphabet (125 bits), stored only as its
//! SHA-256, valid for `activation_code_hours`, single use, and issuing a new one ends the
//! older ones. It records the identity-proofing record it rests on and that record's level;
//! without a record the account can reach at most Low. Activation checks the code and the new
//! password, then registers a WebAuthn credential; only when that succeeds are the code
//! consumed, the password set, the credential bound at the code's level, the account made
//! active and a session started, all in one transaction.

use chrono::{DateTime, Duration, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::Clock;
use portner_shared::crypto::sha256;
use portner_shared::domain::{
    ActivationCode, NsisLevel, PasswordCredential, ProofingMethod, User, UserId, UserStatus,
    Username, WebAuthnCredential,
};
use portner_shared::store::{Store, StoreError, Tx};
use serde::{Deserialize, Serialize};

use super::login::{append, audit_failure, refuse};
use super::session::{self, Factors};
use super::webauthn::{self, Refusal};
use super::{Origin, Password, SignIn, SignInError, random_hex};

/// Crockford base 32: no I, L, O or U, so a code read aloud or retyped is unambiguous.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters per code: 25 × 5 bits = 125 bits (the issue asks for at least 100).
const CODE_CHARS: usize = 25;

/// An identity verification given with the code (`--verified-by`, `--reference`, `--level`).
#[derive(Clone, Debug)]
pub struct Proofing {
    /// How the identity was verified.
    pub method: ProofingMethod,
    /// Document or case reference; never a CPR number.
    pub reference: String,
    /// The level the verification supports.
    pub level: NsisLevel,
}

/// A freshly issued code: the only time the code exists in clear.
#[derive(Clone)]
pub struct IssuedCode {
    /// The code, grouped in fives for reading.
    pub code: String,
    /// The stored record.
    pub record: ActivationCode,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IssuedCode")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Why a code could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No such user.
    #[error("no user named {0}")]
    UnknownUser(String),
    /// The user is not waiting for activation.
    #[error("user {0} is not pending activation (status {1})")]
    NotPending(String, UserStatus),
    /// The store or audit trail failed.
    #[error(transparent)]
    SignIn(#[from] SignInError),
}

impl From<StoreError> for IssueError {
    fn from(error: StoreError) -> Self {
        Self::SignIn(error.into())
    }
}

/// Issues a code for a pending user, recording the proofing first when one is given.
///
/// # Errors
///
/// [`IssueError`] naming the problem; nothing is written then.
pub async fn issue_code(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    username: &Username,
    proofing: Option<&Proofing>,
    valid_hours: u32,
) -> Result<IssuedCode, IssueError> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    let user = tx
        .user_by_username(username)
        .await?
        .ok_or_else(|| IssueError::UnknownUser(username.to_string()))?;
    if user.status != UserStatus::PendingActivation {
        return Err(IssueError::NotPending(username.to_string(), user.status));
    }
    let verified_by = context.actor.to_string();
    let (proofing_id, level) = match proofing {
        Some(proofing) => {
            let record = tx
                .insert_identity_proofing(
                    user.id,
                    proofing.method,
                    &proofing.reference,
                    proofing.level,
                    &verified_by,
                    now,
                )
                .await?;
            let event = AuditEvent::IdentityProofingRecorded {
                user_id: user.id,
                method: proofing.method.to_string(),
                level: proofing.level,
            };
            portner_audit::append(&mut tx, now, context, &Subject::User(user.id), &event)
                .await
                .map_err(SignInError::from)?;
            (Some(record.id), proofing.level)
        }
        // Without a recorded verification the account reaches at most Low (IP-3).
        None => (None, NsisLevel::Low),
    };

    let validity = Duration::hours(i64::from(valid_hours));
    let issued =
        issue_code_in(&mut tx, context, user.id, proofing_id, level, validity, now).await?;
    tx.commit().await?;
    Ok(issued)
}

/// Issues a code inside `tx`, ending the user's older codes (W10); the caller has checked the
/// user and commits. The helpdesk uses it to issue a code in the same transaction as the
/// verification and the reset it rests on.
///
/// # Errors
///
/// The store, audit trail or random source failed.
pub(crate) async fn issue_code_in(
    tx: &mut Tx,
    context: &AuditContext,
    user_id: UserId,
    proofing_id: Option<i64>,
    level: NsisLevel,
    validity: Duration,
    now: DateTime<Utc>,
) -> Result<IssuedCode, SignInError> {
    tx.revoke_activation_codes_of(user_id, now).await?;
    let code = generate_code()?;
    let record = ActivationCode {
        code_hash: hash_code(&code).ok_or(SignInError::Internal("code".to_owned()))?,
        user_id,
        proofing_id,
        level,
        created_at: now,
        expires_at: now + validity,
        used_at: None,
    };
    tx.insert_activation_code(&record).await?;
    let event = AuditEvent::ActivationCodeIssued {
        user_id,
        proofing_id,
        level,
        expires: record.expires_at.to_rfc3339(),
    };
    portner_audit::append(tx, now, context, &Subject::User(user_id), &event).await?;
    Ok(IssuedCode {
        code: group(&code),
        record,
    })
}

fn generate_code() -> Result<String, SignInError> {
    let bytes = super::password::random_bytes::<CODE_CHARS>()?;
    // 256 is a multiple of 32, so taking each byte modulo 32 is unbiased.
    Ok(bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(byte % 32)]))
        .collect())
}

fn group(code: &str) -> String {
    code.as_bytes()
        .chunks(5)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored hash of a code as typed: case, spaces and dashes are ignored, and the letters
/// Crockford maps (O→0, I/L→1) are mapped. `None` for anything that cannot be a code.
pub fn hash_code(typed: &str) -> Option<Vec<u8>> {
    if typed.len() > 64 {
        return None;
    }
    let normalised: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    let valid =
        normalised.len() == CODE_CHARS && normalised.bytes().all(|byte| ALPHABET.contains(&byte));
    valid.then(|| sha256(normalised.as_bytes()).to_vec())
}

/// What the registration step needs from the code step.
#[derive(Deserialize, Serialize)]
struct ActivationContext {
    code_hash: String,
    phc_hash: String,
    correlation_id: String,
}

/// The WebAuthn registration the page must perform.
#[derive(Clone)]
pub struct RegistrationChallenge {
    /// The ceremony handle the page posts back.
    pub handle: String,
    /// The options for `navigator.credentials.create`, as JSON.
    pub options_json: String,
}

impl std::fmt::Debug for RegistrationChallenge {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RegistrationChallenge(<redacted>)")
    }
}

/// Checks username, code and the chosen password, and starts the credential registration.
/// Nothing about the account changes yet.
///
/// # Errors
///
/// [`SignInError::Failed`] for any problem with username or code (one answer);
/// [`SignInError::Policy`] when the password breaks the policy; [`SignInError::Throttled`].
pub async fn begin(
    signin: &SignIn,
    origin: &Origin,
    username: &str,
    code: &str,
    new_password: &str,
) -> Result<RegistrationChallenge, SignInError> {
    let now = signin.clock.now();
    if signin.throttle.is_throttled(origin.source, now) {
        return Err(SignInError::Throttled);
    }
    let password = Password::new(new_password)?;
    let mut tx = signin.store.begin().await?;
    let Some((user, code_hash)) = find_pending(&mut tx, username, code, now).await? else {
        let reason = "ACTIVATION_CODE_REJECTED";
        audit_failure(&mut tx, origin, None, "activation_code", reason, now).await?;
        tx.commit().await?;
        signin.throttle.record_failure(origin.source, now);
        return Err(SignInError::Failed);
    };
    let org_name = tx
        .organisation(&user.org)
        .await?
        .map(|org| org.name)
        .unwrap_or_default();
    let names = [
        user.username.as_str(),
        user.display_name.as_str(),
        org_name.as_str(),
    ];
    signin
        .passwords
        .check_policy(&password, &names, &[])
        .await??;
    let phc_hash = signin.passwords.hash(&password).await?;

    let existing = tx.webauthn_credentials(user.id).await?;
    let (options_json, state_json) = signin.webauthn.start_registration(&user, &existing)?;
    let context = ActivationContext {
        code_hash: hex::encode(code_hash),
        phc_hash,
        correlation_id: random_hex::<8>()?,
    };
    let context_json = serde_json::to_string(&context)
        .map_err(|error| SignInError::Internal(error.to_string()))?;
    let handle =
        webauthn::store_ceremony(&mut tx, &user, "activation", state_json, context_json, now)
            .await?;
    tx.commit().await?;
    Ok(RegistrationChallenge {
        handle,
        options_json,
    })
}

/// The pending user a username and code name together, if the code is live.
async fn find_pending(
    tx: &mut Tx,
    username: &str,
    code: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Option<(User, Vec<u8>)>, SignInError> {
    let (Ok(username), Some(code_hash)) = (username.parse::<Username>(), hash_code(code)) else {
        return Ok(None);
    };
    let Some(user) = tx.user_by_username(&username).await? else {
        return Ok(None);
    };
    let Some(record) = tx.activation_code(&code_hash).await? else {
        return Ok(None);
    };
    let live = record.user_id == user.id
        && record.used_at.is_none()
        && record.expires_at > now
        && user.status == UserStatus::PendingActivation;
    Ok(live.then_some((user, code_hash)))
}

/// Finishes activation with the registration response. Returns the new session's cookie.
///
/// # Errors
///
/// [`SignInError::Failed`] when the ceremony or response is refused or the code was used in
/// the meantime (audited; the ceremony is gone either way).
pub async fn finish(
    signin: &SignIn,
    origin: &Origin,
    handle: &str,
    response: &str,
) -> Result<String, SignInError> {
    let now = signin.clock.now();
    let mut tx = signin.store.begin().await?;
    let ceremony = match webauthn::take_ceremony(&mut tx, handle, "activation", now).await? {
        Ok(ceremony) => ceremony,
        Err(refusal) => {
            return Err(refuse(tx, origin, None, "webauthn", refusal.code(), now).await);
        }
    };
    let user_id = ceremony.user_id;
    let context: ActivationContext = serde_json::from_str(&ceremony.context_json)
        .map_err(|error| SignInError::Internal(format!("ceremony context: {error}")))?;
    let origin = Origin {
        correlation_id: Some(context.correlation_id.clone()),
        ..origin.clone()
    };
    let code_hash = hex::decode(&context.code_hash)
        .map_err(|error| SignInError::Internal(format!("ceremony context: {error}")))?;
    let record = tx.activation_code(&code_hash).await?;
    let user = tx.user(user_id).await?;

    let passkey = signin
        .webauthn
        .finish_registration(&ceremony.state_json, response);
    let (Ok(passkey), Some(record), Some(user)) = (passkey.clone(), record, user) else {
        let refusal = passkey.err().unwrap_or(Refusal::UnknownCeremony);
        return Err(refuse(tx, &origin, Some(user_id), "webauthn", refusal.code(), now).await);
    };
    if !tx.consume_activation_code(&code_hash, now).await? {
        let reason = "ACTIVATION_CODE_REJECTED";
        return Err(refuse(tx, &origin, Some(user_id), "activation_code", reason, now).await);
    }

    let credential_id: &[u8] = passkey.cred_id().as_ref();
    let credential = WebAuthnCredential {
        credential_id: credential_id.to_vec(),
        user_id,
        name: "1".to_owned(),
        credential_json: serde_json::to_string(&passkey)
            .map_err(|error| SignInError::Internal(error.to_string()))?,
        level: record.level,
        registered_at: now,
        last_used_at: None,
    };
    match tx.insert_webauthn_credential(&credential).await {
        Err(StoreError::Conflict { .. }) => {
            // Roll back the code's consumption: a duplicate credential ID leaves nothing
            // changed but the refusal in the trail (W8).
            drop(tx);
            let tx = signin.store.begin().await?;
            let code = Refusal::Duplicate.code();
            return Err(refuse(tx, &origin, Some(user_id), "webauthn", code, now).await);
        }
        other => other?,
    }
    let password = PasswordCredential {
        user_id,
        phc_hash: context.phc_hash.clone(),
        set_at: now,
    };
    tx.set_password(&password).await?;
    tx.push_password_history(user_id, &context.phc_hash, now)
        .await?;
    tx.clear_password_change_requirement(user_id).await?;
    tx.set_user_status(user_id, UserStatus::Active, now).await?;
    tx.set_identity_level(user_id, record.level, now).await?;

    let activated = AuditEvent::AccountActivated {
        user_id,
        level: record.level,
    };
    append(&mut tx, &origin, user_id, now, &activated).await?;
    let added = AuditEvent::CredentialAdded {
        user_id,
        credential_id: hex::encode(credential_id),
        level: record.level,
    };
    append(&mut tx, &origin, user_id, now, &added).await?;

    let factors = Factors {
        correlation_id: context.correlation_id,
        identity_level: record.level,
        password_at: Some(now),
        second_factor_at: Some(now),
        credential_level: Some(record.level),
    };
    let activated_user = User {
        status: UserStatus::Active,
        identity_level: record.level,
        ..user
    };
    let cookie = session::create(&mut tx, signin, &activated_user, &factors, now).await?;
    tx.commit().await?;
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_125_bits_and_are_read_forgivingly() {
        let code = group(&generate_code().unwrap());
        assert_eq!(code.len(), 29);
        let hash = hash_code(&code).unwrap();
        assert_eq!(hash_code(&code.to_lowercase()), Some(hash.clone()));
        assert_eq!(hash_code(&code.replace('-', " ")), Some(hash));
        assert_eq!(hash_code("short"), None);
        assert_eq!(hash_code(&"U".repeat(25)), None);
        assert_ne!(generate_code().unwrap(), generate_code().unwrap());
    }
}
