//! Self-service recovery of a forgotten password (issue 5, item 3; HD-1 in `oiosaml3-nsis.md`
//! keeps the helpdesk for everyone else).
//!
//! A user who still holds a registered authenticator with user verification (a PIN or a
//! biometric on the key or device) chooses a new password at `/recover` and confirms it with
//! that authenticator's ceremony. The ceremony proves possession and, through the user
//! verification, a second factor of its own, so it is as strong as the sign-in it replaces; an
//! authenticator without user verification cannot complete it (webauthn-rs' passkey ceremony
//! requires the UV flag, and [`finish`] checks it again), and its holder goes to the helpdesk.
//!
//! The steps mirror activation: [`begin`] checks the username and the new password against
//! the policy (with the password history) and stores the ceremony with the password's hash;
//! [`finish`] checks the assertion and, in one transaction, sets the password, records the
//! credential's use, ends every session of the account (whoever forgot the password may not
//! be the only one who had a session), and audits it all. No session is created: the user
//! signs in afresh with the new password and the same key.
//!
//! Known shortcoming: the first step answers differently for an account that can recover (the
//! key page) and for one that cannot (the uniform failure), so it tells whether a username
//! has a usable key. Both answers are audited and count against the per-source throttle, as
//! failed sign-ins do; a decoy ceremony for unknown accounts is not built.

use chrono::{DateTime, Utc};
use portner_audit::AuditEvent;
use portner_shared::domain::{PasswordCredential, User, UserStatus, Username};
use portner_shared::store::Tx;
use serde::{Deserialize, Serialize};

use super::login::{
    WebAuthnChallenge, append, audit_failure, refuse, refuse_assertion, usable_credentials,
};
use super::password::Password;
use super::webauthn::{self, Refusal};
use super::{Origin, SignIn, SignInError, random_hex};

/// The ceremony kind, so a recovery answer can never finish a sign-in or the reverse.
const CEREMONY: &str = "recovery";

/// What the ceremony carries from the first step to the second.
#[derive(Deserialize, Serialize)]
struct RecoveryContext {
    phc_hash: String,
    correlation_id: String,
}

/// Checks the username and the new password, and starts the authenticator's ceremony. Nothing
/// about the account changes yet.
///
/// # Errors
///
/// [`SignInError::Failed`] when the account does not exist, is not active or has no usable
/// authenticator (one answer, audited); [`SignInError::Policy`] for a refused password;
/// [`SignInError::Throttled`].
pub async fn begin(
    signin: &SignIn,
    origin: &Origin,
    username: &str,
    new_password: &str,
) -> Result<WebAuthnChallenge, SignInError> {
    let now = signin.clock.now();
    if signin.throttle.is_throttled(origin.source, now) {
        return Err(SignInError::Throttled);
    }
    let password = Password::new(new_password)?;

    let mut tx = signin.store.begin().await?;
    let Some(user) = recoverable_user(&mut tx, username).await? else {
        audit_failure(&mut tx, origin, None, "recovery", "NOT_RECOVERABLE", now).await?;
        tx.commit().await?;
        signin.throttle.record_failure(origin.source, now);
        return Err(SignInError::Failed);
    };
    let credentials = usable_credentials(&mut tx, user.id).await?;
    if credentials.is_empty() {
        audit_failure(
            &mut tx,
            origin,
            Some(user.id),
            "recovery",
            "NO_AUTHENTICATOR",
            now,
        )
        .await?;
        tx.commit().await?;
        signin.throttle.record_failure(origin.source, now);
        return Err(SignInError::Failed);
    }
    check_policy(&mut tx, signin, &user, &password).await?;
    let phc_hash = signin.passwords.hash(&password).await?;

    let (options_json, state_json) = signin.webauthn.start_authentication(&credentials)?;
    let context = RecoveryContext {
        phc_hash,
        correlation_id: random_hex::<8>()?,
    };
    let context_json = serde_json::to_string(&context)
        .map_err(|error| SignInError::Internal(error.to_string()))?;
    let handle =
        webauthn::store_ceremony(&mut tx, &user, CEREMONY, state_json, context_json, now).await?;
    tx.commit().await?;
    Ok(WebAuthnChallenge {
        cookie: None,
        handle,
        options_json,
    })
}

/// The active account a username names.
async fn recoverable_user(tx: &mut Tx, username: &str) -> Result<Option<User>, SignInError> {
    let Ok(username) = username.parse::<Username>() else {
        return Ok(None);
    };
    Ok(tx
        .user_by_username(&username)
        .await?
        .filter(|user| user.status == UserStatus::Active))
}

/// The password policy, with the account's names and its password history (PW-1, PW-2).
async fn check_policy(
    tx: &mut Tx,
    signin: &SignIn,
    user: &User,
    password: &Password,
) -> Result<(), SignInError> {
    let org_name = tx
        .organisation(&user.org)
        .await?
        .map(|org| org.name)
        .unwrap_or_default();
    let history = tx
        .password_history(user.id, i64::from(signin.settings().password_history))
        .await?;
    let names = [
        user.username.as_str(),
        user.display_name.as_str(),
        org_name.as_str(),
    ];
    signin
        .passwords
        .check_policy(password, &names, &history)
        .await??;
    Ok(())
}

/// Finishes recovery with the authenticator's assertion: the new password is set and every
/// session of the account ends.
///
/// # Errors
///
/// [`SignInError::Failed`] when the ceremony or the assertion is refused (audited with its
/// reason; the ceremony is gone either way).
pub async fn finish(
    signin: &SignIn,
    origin: &Origin,
    handle: &str,
    response: &str,
) -> Result<(), SignInError> {
    let now = signin.clock.now();
    let mut tx = signin.store.begin().await?;
    let ceremony = match webauthn::take_ceremony(&mut tx, handle, CEREMONY, now).await? {
        Ok(ceremony) => ceremony,
        Err(refusal) => {
            signin.throttle.record_failure(origin.source, now);
            return Err(refuse(tx, origin, None, "recovery", refusal.code(), now).await);
        }
    };
    let user_id = ceremony.user_id;
    let context: RecoveryContext = serde_json::from_str(&ceremony.context_json)
        .map_err(|error| SignInError::Internal(format!("ceremony context: {error}")))?;
    let origin = Origin {
        correlation_id: Some(context.correlation_id.clone()),
        ..origin.clone()
    };

    let active = tx
        .user(user_id)
        .await?
        .is_some_and(|user| user.status == UserStatus::Active);
    let credentials = usable_credentials(&mut tx, user_id).await?;
    let checked = match active {
        true => signin
            .webauthn
            .finish_authentication(&ceremony.state_json, response, &credentials),
        false => Err((Refusal::UnknownCeremony, None)),
    };
    // The library's passkey ceremony demands UV already; checked again because recovery
    // rests on it (a key without UV would be a single factor).
    let checked = checked.and_then(|(result, credential_id)| match result.user_verified() {
        true => Ok((result, credential_id)),
        false => Err((Refusal::UserNotVerified, None)),
    });
    let found = checked.and_then(|(result, credential_id)| {
        credentials
            .iter()
            .find(|credential| credential.credential_id == credential_id)
            .map(|credential| (result, credential))
            .ok_or((Refusal::Invalid, None))
    });
    let (result, credential) = match found {
        Ok(found) => found,
        Err((refusal, flag)) => {
            // As at sign-in: audited with its reason, a regressed counter flags the key (W6).
            refuse_assertion(&mut tx, &origin, user_id, refusal, flag, now).await?;
            tx.commit().await?;
            signin.throttle.record_failure(origin.source, now);
            return Err(SignInError::Failed);
        }
    };

    webauthn::record_use(&mut tx, credential, &result, now).await?;
    set_password(&mut tx, user_id, &context.phc_hash, now).await?;
    let event = AuditEvent::PasswordRecovered {
        user_id,
        credential_id: hex::encode(&credential.credential_id),
    };
    append(&mut tx, &origin, user_id, now, &event).await?;
    crate::notify::enqueue(
        &mut tx,
        user_id,
        crate::notify::Notice::PasswordRecovered,
        now,
    )
    .await?;
    super::account::end_all_sessions_of(&mut tx, &origin, user_id, "password_recovered", now)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn set_password(
    tx: &mut Tx,
    user_id: portner_shared::domain::UserId,
    phc_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    tx.set_password(&PasswordCredential {
        user_id,
        phc_hash: phc_hash.to_owned(),
        set_at: now,
    })
    .await?;
    tx.push_password_history(user_id, phc_hash, now).await?;
    tx.clear_password_change_requirement(user_id).await?;
    Ok(())
}
