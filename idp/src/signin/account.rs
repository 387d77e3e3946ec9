//! Self-service on a signed-in session: change the password, add, rename and remove WebAuthn
//! credentials, list and end sessions, sign out (PW-5, AU-5, SS-6, ASVS 7.4, 7.5.1).
//!
//! Changes to authenticators need a second factor verified within its freshness window
//! (`session_second_factor_fresh_minutes`); an older session must sign in again. A credential
//! added here gets the level of the session it was added in (AU-5). A password change or a
//! credential removal ends the user's other sessions (SS-6) and gives this one a new
//! identifier (SS-5).

use chrono::{DateTime, Utc};
use portner_audit::AuditEvent;
use portner_shared::domain::{PasswordCredential, UserId, WebAuthnCredential};
use portner_shared::store::{StoreError, Tx};
use serde::{Deserialize, Serialize};

use super::activation::RegistrationChallenge;
use super::login::{append, refuse};
use super::session::{self, ActiveSession};
use super::webauthn::{self, Refusal};
use super::{Origin, Password, SignIn, SignInError};
use crate::notify::Notice;

/// Longest credential name accepted, in characters.
const MAX_CREDENTIAL_NAME_CHARS: usize = 64;

fn with_correlation(origin: &Origin, active: &ActiveSession) -> Origin {
    Origin {
        correlation_id: Some(active.factors.correlation_id.clone()),
        ..origin.clone()
    }
}

fn require_fresh_second_factor(
    signin: &SignIn,
    active: &ActiveSession,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    if active.factors.second_factor_fresh(now, &signin.settings()) {
        Ok(())
    } else {
        Err(SignInError::SessionRequired)
    }
}

/// Ends the current session (sign out).
///
/// # Errors
///
/// The store or audit trail failed.
pub async fn sign_out(
    signin: &SignIn,
    origin: &Origin,
    active: &ActiveSession,
) -> Result<(), SignInError> {
    let now = signin.clock.now();
    let origin = with_correlation(origin, active);
    let mut tx = signin.store.begin().await?;
    if tx.delete_session(&active.session.id_hash).await? {
        session::audit_end(&mut tx, now, &origin, active.session.user_id, "sign_out").await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Ends every session of the signed-in user, this one included. Returns how many ended.
///
/// # Errors
///
/// The store or audit trail failed.
pub async fn end_all_sessions(
    signin: &SignIn,
    origin: &Origin,
    active: &ActiveSession,
) -> Result<usize, SignInError> {
    let now = signin.clock.now();
    let origin = with_correlation(origin, active);
    let mut tx = signin.store.begin().await?;
    let ended = end_sessions(
        &mut tx,
        &origin,
        active.session.user_id,
        None,
        "ended_by_user",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Ends one of the user's sessions, named by the hex of its identifier hash (what the account
/// page lists; never the cookie value).
///
/// # Errors
///
/// [`SignInError::NotAllowed`] if the user has no such session.
pub async fn end_session(
    signin: &SignIn,
    origin: &Origin,
    active: &ActiveSession,
    session_hash_hex: &str,
) -> Result<(), SignInError> {
    let now = signin.clock.now();
    let origin = with_correlation(origin, active);
    let user_id = active.session.user_id;
    let target = hex::decode(session_hash_hex).map_err(|_| SignInError::BadInput("session"))?;
    let mut tx = signin.store.begin().await?;
    let owned = tx
        .sessions_of(user_id)
        .await?
        .iter()
        .any(|listed| listed.id_hash == target);
    if !owned || !tx.delete_session(&target).await? {
        return Err(SignInError::NotAllowed("no such session"));
    }
    session::audit_end(&mut tx, now, &origin, user_id, "ended_by_user").await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the user's sessions except `keep`, auditing each; returns how many ended.
/// Ends every session of `user_id`, each audited with `reason` (after a recovery).
///
/// # Errors
///
/// Store or audit failures.
pub(crate) async fn end_all_sessions_of(
    tx: &mut Tx,
    origin: &Origin,
    user_id: UserId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, SignInError> {
    end_sessions(tx, origin, user_id, None, reason, now).await
}

async fn end_sessions(
    tx: &mut Tx,
    origin: &Origin,
    user_id: UserId,
    keep: Option<&[u8]>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, SignInError> {
    let mut ended = 0;
    for listed in tx.sessions_of(user_id).await? {
        if Some(listed.id_hash.as_slice()) == keep {
            continue;
        }
        tx.delete_session(&listed.id_hash).await?;
        session::audit_end(tx, now, origin, user_id, reason).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Changes the password: the current one is required (ASVS 6.2.3), the second factor must be
/// fresh, the new one must pass the policy and differ from the last N. Returns the session's
/// new cookie value.
///
/// # Errors
///
/// [`SignInError::SessionRequired`] without a fresh second factor; [`SignInError::Failed`] for
/// a wrong current password; [`SignInError::Policy`] for a refused new one.
pub async fn change_password(
    signin: &SignIn,
    origin: &Origin,
    active: &ActiveSession,
    current: &str,
    new: &str,
) -> Result<String, SignInError> {
    let now = signin.clock.now();
    require_fresh_second_factor(signin, active, now)?;
    let origin = with_correlation(origin, active);
    let user_id = active.session.user_id;
    let (current, new) = (Password::new(current)?, Password::new(new)?);

    let mut tx = signin.store.read().await?;
    let user = tx
        .user(user_id)
        .await?
        .ok_or(SignInError::SessionRequired)?;
    let stored = tx
        .password(user_id)
        .await?
        .map(|credential| credential.phc_hash);
    let org_name = tx
        .organisation(&user.org)
        .await?
        .map(|org| org.name)
        .unwrap_or_default();
    let history = tx
        .password_history(user_id, i64::from(signin.settings().password_history))
        .await?;
    tx.rollback().await?;

    if !signin
        .passwords
        .verify(&current, stored.as_deref())
        .await?
        .matched
    {
        let tx = signin.store.begin().await?;
        let reason = "WRONG_PASSWORD";
        return Err(refuse(tx, &origin, Some(user_id), "password_change", reason, now).await);
    }
    let names = [
        user.username.as_str(),
        user.display_name.as_str(),
        org_name.as_str(),
    ];
    signin
        .passwords
        .check_policy(&new, &names, &history)
        .await??;
    let phc_hash = signin.passwords.hash(&new).await?;

    let mut tx = signin.store.begin().await?;
    tx.set_password(&PasswordCredential {
        user_id,
        phc_hash: phc_hash.clone(),
        set_at: now,
    })
    .await?;
    tx.push_password_history(user_id, &phc_hash, now).await?;
    // A new password meets a helpdesk's "change your password" requirement (issue 5).
    tx.clear_password_change_requirement(user_id).await?;
    append(
        &mut tx,
        &origin,
        user_id,
        now,
        &AuditEvent::PasswordChanged { user_id },
    )
    .await?;
    crate::notify::enqueue(&mut tx, user_id, Notice::PasswordChanged, now).await?;
    let keep = Some(active.session.id_hash.as_slice());
    end_sessions(&mut tx, &origin, user_id, keep, "credential_change", now).await?;
    let mut factors = active.factors.clone();
    factors.password_at = Some(now);
    let cookie = session::rotate(&mut tx, signin, &active.session, &factors, now).await?;
    tx.commit().await?;
    Ok(cookie)
}

#[derive(Deserialize, Serialize)]
struct AddContext {
    session_hash: String,
}

/// Starts registering another credential; needs a fresh second factor (ASVS 7.5.1, W10).
///
/// # Errors
///
/// [`SignInError::SessionRequired`] without a fresh second factor.
pub async fn start_add_credential(
    signin: &SignIn,
    active: &ActiveSession,
) -> Result<RegistrationChallenge, SignInError> {
    let now = signin.clock.now();
    require_fresh_second_factor(signin, active, now)?;
    let mut tx = signin.store.begin().await?;
    let user = tx
        .user(active.session.user_id)
        .await?
        .ok_or(SignInError::SessionRequired)?;
    let existing = tx.webauthn_credentials(user.id).await?;
    let (options_json, state_json) = signin.webauthn.start_registration(&user, &existing)?;
    let context = AddContext {
        session_hash: hex::encode(&active.session.id_hash),
    };
    let context_json = serde_json::to_string(&context)
        .map_err(|error| SignInError::Internal(error.to_string()))?;
    let handle = webauthn::store_ceremony(
        &mut tx,
        &user,
        "add_credential",
        state_json,
        context_json,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(RegistrationChallenge {
        handle,
        options_json,
    })
}

/// Finishes adding a credential. Its level is the session's level now (AU-5).
///
/// # Errors
///
/// [`SignInError::Failed`] when the ceremony or response is refused (audited).
pub async fn finish_add_credential(
    signin: &SignIn,
    origin: &Origin,
    active: &ActiveSession,
    handle: &str,
    response: &str,
) -> Result<(), SignInError> {
    let now = signin.clock.now();
    let origin = with_correlation(origin, active);
    let user_id = active.session.user_id;
    let mut tx = signin.store.begin().await?;
    let ceremony = webauthn::take_ceremony(&mut tx, handle, "add_credential", now).await?;
    let bound_ceremony = ceremony.and_then(|ceremony| {
        let context: Option<AddContext> = serde_json::from_str(&ceremony.context_json).ok();
        let bound = context
            .is_some_and(|context| context.session_hash == hex::encode(&active.session.id_hash));
        if bound {
            Ok(ceremony)
        } else {
            Err(Refusal::UnknownCeremony)
        }
    });
    let passkey = bound_ceremony.and_then(|ceremony| {
        signin
            .webauthn
            .finish_registration(&ceremony.state_json, response)
    });
    let passkey = match passkey {
        Ok(passkey) => passkey,
        Err(refusal) => {
            return Err(refuse(tx, &origin, Some(user_id), "webauthn", refusal.code(), now).await);
        }
    };

    let count = tx.webauthn_credentials(user_id).await?.len();
    let credential_id: &[u8] = passkey.cred_id().as_ref();
    let credential = WebAuthnCredential {
        credential_id: credential_id.to_vec(),
        user_id,
        name: (count + 1).to_string(),
        credential_json: serde_json::to_string(&passkey)
            .map_err(|error| SignInError::Internal(error.to_string()))?,
        level: active.level,
        registered_at: now,
        last_used_at: None,
    };
    if let Err(error) = tx.insert_webauthn_credential(&credential).await {
        drop(tx);
        if !matches!(error, StoreError::Conflict { .. }) {
            return Err(error.into());
        }
        let tx = signin.store.begin().await?;
        let code = Refusal::Duplicate.code();
        return Err(refuse(tx, &origin, Some(user_id), "webauthn", code, now).await);
    }
    let event = AuditEvent::CredentialAdded {
        user_id,
        credential_id: hex::encode(credential_id),
        level: active.level,
    };
    append(&mut tx, &origin, user_id, now, &event).await?;
    crate::notify::enqueue(&mut tx, user_id, Notice::CredentialAdded, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Renames one of the user's credentials.
///
/// # Errors
///
/// [`SignInError::BadInput`] for an empty, overlong or control-character name;
/// [`SignInError::NotAllowed`] if the user has no such credential.
pub async fn rename_credential(
    signin: &SignIn,
    origin: &Origin,
    active: &ActiveSession,
    credential_hex: &str,
    name: &str,
) -> Result<(), SignInError> {
    let now = signin.clock.now();
    let origin = with_correlation(origin, active);
    let user_id = active.session.user_id;
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > MAX_CREDENTIAL_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(SignInError::BadInput("name"));
    }
    let credential_id =
        hex::decode(credential_hex).map_err(|_| SignInError::BadInput("credential"))?;
    let mut tx = signin.store.begin().await?;
    if !tx
        .rename_webauthn_credential(user_id, &credential_id, name)
        .await?
    {
        return Err(SignInError::NotAllowed("no such credential"));
    }
    let event = AuditEvent::CredentialRenamed {
        user_id,
        credential_id: credential_hex.to_ascii_lowercase(),
    };
    append(&mut tx, &origin, user_id, now, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes one of the user's credentials, never the last one; needs a fresh second factor and
/// ends the user's other sessions (SS-6).
///
/// # Errors
///
/// [`SignInError::NotAllowed`] for the last credential or one the user does not hold;
/// [`SignInError::SessionRequired`] without a fresh second factor.
pub async fn remove_credential(
    signin: &SignIn,
    origin: &Origin,
    active: &ActiveSession,
    credential_hex: &str,
) -> Result<(), SignInError> {
    let now = signin.clock.now();
    require_fresh_second_factor(signin, active, now)?;
    let origin = with_correlation(origin, active);
    let user_id = active.session.user_id;
    let credential_id =
        hex::decode(credential_hex).map_err(|_| SignInError::BadInput("credential"))?;
    let mut tx = signin.store.begin().await?;
    let credentials = tx.webauthn_credentials(user_id).await?;
    if !credentials
        .iter()
        .any(|credential| credential.credential_id == credential_id)
    {
        return Err(SignInError::NotAllowed("no such credential"));
    }
    if credentials.len() <= 1 {
        return Err(SignInError::NotAllowed(
            "the last credential cannot be removed",
        ));
    }
    tx.delete_webauthn_credential(&credential_id).await?;
    let event = AuditEvent::CredentialRemoved {
        user_id,
        credential_id: hex::encode(&credential_id),
    };
    append(&mut tx, &origin, user_id, now, &event).await?;
    crate::notify::enqueue(&mut tx, user_id, Notice::CredentialRemoved, now).await?;
    let keep = Some(active.session.id_hash.as_slice());
    end_sessions(&mut tx, &origin, user_id, keep, "credential_change", now).await?;
    tx.commit().await?;
    Ok(())
}
