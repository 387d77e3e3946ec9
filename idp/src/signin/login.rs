//! Signing in: the password step, then the WebAuthn step (AU-1, AU-2, AU-3, LK-1, LK-2).
//!
//! The password step always runs exactly one Argon2id verification (against the dummy hash
//! for an unknown username) and decides only afterwards, so unknown user, wrong password,
//! locked, disabled and pending accounts take the same path and give the same answer
//! ([`SignInError::Failed`]); only the audit trail records which it was (ASVS 6.3.8).

use chrono::{DateTime, Duration, Utc};
use portner_audit::{AuditEvent, Subject};
use portner_shared::domain::{NsisLevel, SignInFailures, User, UserId, UserStatus, Username};
use portner_shared::store::Tx;
use serde::{Deserialize, Serialize};

use super::session::{self, Factors};
use super::webauthn::{self, Refusal};
use super::{Origin, Password, SignIn, SignInError, random_hex};

/// What the password step hands to the page: the new session's cookie value, and the
/// WebAuthn challenge to answer.
#[derive(Clone)]
pub struct WebAuthnChallenge {
    /// The session cookie value (password factor only, at most Low).
    pub cookie: Option<String>,
    /// The ceremony handle the page posts back.
    pub handle: String,
    /// The options for `navigator.credentials`, as JSON.
    pub options_json: String,
}

impl std::fmt::Debug for WebAuthnChallenge {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WebAuthnChallenge(<redacted>)")
    }
}

#[derive(Deserialize, Serialize)]
struct LoginContext {
    session_hash: String,
}

/// Checks username and password. On success a session at most Low exists and the WebAuthn
/// step is prepared.
///
/// # Errors
///
/// [`SignInError::Failed`] for every authentication failure; [`SignInError::Throttled`] when
/// the source has failed too often; [`SignInError::BadInput`] for an overlong password.
pub async fn password_step(
    signin: &SignIn,
    origin: &Origin,
    existing_cookie: Option<&str>,
    username: &str,
    password: &str,
) -> Result<WebAuthnChallenge, SignInError> {
    let now = signin.clock.now();
    if signin.throttle.is_throttled(origin.source, now) {
        return Err(SignInError::Throttled);
    }
    let password = Password::new(password)?;
    let (user, stored) = find_user_and_hash(signin, username).await?;
    let previous = session::load(signin, existing_cookie, origin).await?;

    // One verification whatever the account's state: the decision comes after it.
    let verification = signin
        .passwords
        .verify(&password, stored.as_deref())
        .await?;
    let rehash = if verification.matched && verification.needs_rehash {
        Some(signin.passwords.hash(&password).await?)
    } else {
        None
    };

    let mut tx = signin.store.begin().await?;
    let outcome = decide(
        &mut tx,
        signin,
        origin,
        user.as_ref(),
        verification.matched,
        now,
    )
    .await?;
    let Some(user) = outcome else {
        tx.commit().await?;
        signin.throttle.record_failure(origin.source, now);
        return Err(SignInError::Failed);
    };
    if let Some(phc) = rehash {
        let credential = portner_shared::domain::PasswordCredential {
            user_id: user.id,
            phc_hash: phc,
            set_at: now,
        };
        tx.set_password(&credential).await?;
    }
    let challenge =
        start_second_factor(&mut tx, signin, origin, &user, previous.as_ref(), now).await?;
    tx.commit().await?;
    Ok(challenge)
}

async fn find_user_and_hash(
    signin: &SignIn,
    username: &str,
) -> Result<(Option<User>, Option<String>), SignInError> {
    let Ok(username) = username.parse::<Username>() else {
        return Ok((None, None));
    };
    let mut tx = signin.store.read().await?;
    let user = tx.user_by_username(&username).await?;
    let stored = match &user {
        Some(user) => tx
            .password(user.id)
            .await?
            .map(|credential| credential.phc_hash),
        None => None,
    };
    tx.rollback().await?;
    Ok((user, stored))
}

/// Applies lockout and status rules after the verification; returns the user on success.
async fn decide(
    tx: &mut Tx,
    signin: &SignIn,
    origin: &Origin,
    user: Option<&User>,
    matched: bool,
    now: DateTime<Utc>,
) -> Result<Option<User>, SignInError> {
    let Some(user) = user else {
        audit_failure(tx, origin, None, "password", "UNKNOWN_USER", now).await?;
        return Ok(None);
    };
    let mut failures = tx.sign_in_failures(user.id).await?;
    if let Some(until) = failures.locked_until {
        if until > now {
            audit_failure(tx, origin, Some(user.id), "password", "LOCKED", now).await?;
            return Ok(None);
        }
        failures = SignInFailures {
            failures: 0,
            locked_until: None,
        };
        tx.set_sign_in_failures(user.id, failures, now).await?;
        let event = AuditEvent::AccountUnlocked { user_id: user.id };
        append(tx, origin, user.id, now, &event).await?;
    }
    let status_reason = match user.status {
        UserStatus::Active => None,
        UserStatus::PendingActivation => Some("PENDING_ACTIVATION"),
        UserStatus::Disabled => Some("DISABLED"),
        UserStatus::Locked => Some("LOCKED"),
    };
    // A pending or disabled account fails whatever the password; it is not counted towards
    // a lockout, which would only matter once the account can sign in.
    if let Some(reason) = status_reason {
        audit_failure(tx, origin, Some(user.id), "password", reason, now).await?;
        return Ok(None);
    }
    if !matched {
        record_wrong_password(tx, signin, origin, user.id, failures, now).await?;
        return Ok(None);
    }
    if failures.failures > 0 {
        tx.set_sign_in_failures(
            user.id,
            SignInFailures {
                failures: 0,
                locked_until: None,
            },
            now,
        )
        .await?;
    }
    Ok(Some(user.clone()))
}

/// Counts a wrong password and locks the account at the threshold (LK-1), with an alarm.
async fn record_wrong_password(
    tx: &mut Tx,
    signin: &SignIn,
    origin: &Origin,
    user_id: UserId,
    before: SignInFailures,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    audit_failure(tx, origin, Some(user_id), "password", "WRONG_PASSWORD", now).await?;
    let count = before.failures + 1;
    let threshold = i64::from(signin.settings().lockout_threshold);
    let locked_until = (count >= threshold)
        .then(|| now + Duration::minutes(i64::from(signin.settings().lockout_minutes)));
    let failures = SignInFailures {
        failures: if locked_until.is_some() { 0 } else { count },
        locked_until,
    };
    tx.set_sign_in_failures(user_id, failures, now).await?;
    if let Some(until) = locked_until {
        let event = AuditEvent::AccountLocked {
            user_id,
            failures: count,
            until: until.to_rfc3339(),
        };
        append(tx, origin, user_id, now, &event).await?;
        tracing::warn!(%user_id, "account locked after repeated wrong passwords");
    }
    Ok(())
}

/// Starts the password-only session and the WebAuthn ceremony that will raise it.
///
/// A session the browser already holds is replaced, never kept beside the new one (SS-5).
/// When it is the same user's (re-authentication for `ForceAuthn`, AC-6), the new session
/// keeps its correlation ID, so the SPs it signed in to stay reachable for single logout.
async fn start_second_factor(
    tx: &mut Tx,
    signin: &SignIn,
    origin: &Origin,
    user: &User,
    previous: Option<&session::ActiveSession>,
    now: DateTime<Utc>,
) -> Result<WebAuthnChallenge, SignInError> {
    if let Some(previous) = previous {
        tx.delete_session(&previous.session.id_hash).await?;
    }
    let continued = previous
        .filter(|previous| previous.session.user_id == user.id)
        .map(|previous| previous.factors.correlation_id.clone());
    let correlation_id = match continued {
        Some(correlation_id) => correlation_id,
        None => random_hex::<8>()?,
    };
    let factors = Factors {
        correlation_id: correlation_id.clone(),
        identity_level: user.identity_level,
        password_at: Some(now),
        second_factor_at: None,
        credential_level: None,
    };
    let cookie = session::create(tx, signin, user, &factors, now).await?;
    let origin = Origin {
        correlation_id: Some(correlation_id),
        ..origin.clone()
    };
    let event = AuditEvent::SignInSucceeded {
        user_id: user.id,
        factor: "password".to_owned(),
        level: factors.level(now, &signin.settings()),
    };
    append(tx, &origin, user.id, now, &event).await?;

    let mut challenge = prepare_ceremony(tx, signin, user, &session::hash_id(&cookie), now).await?;
    challenge.cookie = Some(cookie);
    Ok(challenge)
}

/// Prepares the WebAuthn ceremony for the session with `session_hash`, bound to it so that
/// the assertion raises that session and no other.
async fn prepare_ceremony(
    tx: &mut Tx,
    signin: &SignIn,
    user: &User,
    session_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<WebAuthnChallenge, SignInError> {
    let credentials = usable_credentials(tx, user.id).await?;
    let (options_json, state_json) = signin.webauthn.start_authentication(&credentials)?;
    let context = LoginContext {
        session_hash: hex::encode(session_hash),
    };
    let context_json = serde_json::to_string(&context)
        .map_err(|error| SignInError::Internal(error.to_string()))?;
    let handle = webauthn::store_ceremony(tx, user, "login", state_json, context_json, now).await?;
    Ok(WebAuthnChallenge {
        cookie: None,
        handle,
        options_json,
    })
}

/// Step-up (AC-9): the session's password is still fresh but its second factor is missing or
/// stale, so only the WebAuthn step is asked for.
///
/// # Errors
///
/// [`SignInError::SessionRequired`] without a session whose password is within its freshness
/// window, or whose account can no longer sign in; the caller then shows the password form.
pub async fn step_up(
    signin: &SignIn,
    origin: &Origin,
    cookie: Option<&str>,
) -> Result<WebAuthnChallenge, SignInError> {
    let active = session::load(signin, cookie, origin)
        .await?
        .ok_or(SignInError::SessionRequired)?;
    let now = signin.clock.now();
    if !active.factors.password_fresh(now, &signin.settings()) {
        return Err(SignInError::SessionRequired);
    }
    let mut tx = signin.store.begin().await?;
    let user = tx
        .user(active.session.user_id)
        .await?
        .filter(|user| user.status == UserStatus::Active)
        .ok_or(SignInError::SessionRequired)?;
    let challenge = prepare_ceremony(&mut tx, signin, &user, &active.session.id_hash, now).await?;
    tx.commit().await?;
    Ok(challenge)
}

/// A user's credentials that are not flagged as possibly cloned.
pub(crate) async fn usable_credentials(
    tx: &mut Tx,
    user_id: UserId,
) -> Result<Vec<portner_shared::domain::WebAuthnCredential>, SignInError> {
    let flagged = tx.flagged_webauthn_credentials(user_id).await?;
    let credentials = tx.webauthn_credentials(user_id).await?;
    Ok(credentials
        .into_iter()
        .filter(|credential| !flagged.contains(&credential.credential_id))
        .collect())
}

/// Checks the WebAuthn assertion for the session's pending ceremony. On success the session
/// gets a new identifier and the level of password + credential (SS-1, SS-5).
///
/// # Errors
///
/// [`SignInError::SessionRequired`] without a password session; [`SignInError::Failed`] for
/// any refused assertion (audited with its reason, and the ceremony is gone either way).
pub async fn webauthn_step(
    signin: &SignIn,
    origin: &Origin,
    cookie: Option<&str>,
    handle: &str,
    response: &str,
) -> Result<(String, NsisLevel), SignInError> {
    let active = session::load(signin, cookie, origin)
        .await?
        .ok_or(SignInError::SessionRequired)?;
    let now = signin.clock.now();
    let user_id = active.session.user_id;
    let origin = Origin {
        correlation_id: Some(active.factors.correlation_id.clone()),
        ..origin.clone()
    };
    let mut tx = signin.store.begin().await?;
    let credentials = usable_credentials(&mut tx, user_id).await?;
    let outcome = check_assertion(
        &mut tx,
        signin,
        &active,
        handle,
        response,
        &credentials,
        now,
    )
    .await?;
    let (result, credential_id) = match outcome {
        Ok(found) => found,
        Err((refusal, flag)) => {
            refuse_assertion(&mut tx, &origin, user_id, refusal, flag, now).await?;
            tx.commit().await?;
            signin.throttle.record_failure(origin.source, now);
            return Err(SignInError::Failed);
        }
    };
    let Some(credential) = credentials
        .iter()
        .find(|c| c.credential_id == credential_id)
    else {
        refuse_assertion(&mut tx, &origin, user_id, Refusal::Invalid, None, now).await?;
        tx.commit().await?;
        return Err(SignInError::Failed);
    };

    webauthn::record_use(&mut tx, credential, &result, now).await?;

    let mut factors = active.factors.clone();
    factors.second_factor_at = Some(now);
    factors.credential_level = Some(credential.level);
    let cookie = session::rotate(&mut tx, signin, &active.session, &factors, now).await?;
    let level = factors.level(now, &signin.settings());
    let event = AuditEvent::SignInSucceeded {
        user_id,
        factor: "webauthn".to_owned(),
        level,
    };
    append(&mut tx, &origin, user_id, now, &event).await?;
    tx.commit().await?;
    Ok((cookie, level))
}

use super::webauthn::{Assertion, Refused};

async fn check_assertion(
    tx: &mut Tx,
    signin: &SignIn,
    active: &session::ActiveSession,
    handle: &str,
    response: &str,
    credentials: &[portner_shared::domain::WebAuthnCredential],
    now: DateTime<Utc>,
) -> Result<Result<Assertion, Refused>, SignInError> {
    let ceremony = match webauthn::take_ceremony(tx, handle, "login", now).await? {
        Ok(ceremony) => ceremony,
        Err(refusal) => return Ok(Err((refusal, None))),
    };
    let context: Option<LoginContext> = serde_json::from_str(&ceremony.context_json).ok();
    let bound =
        context.is_some_and(|context| context.session_hash == hex::encode(&active.session.id_hash));
    if !bound || ceremony.user_id != active.session.user_id {
        return Ok(Err((Refusal::UnknownCeremony, None)));
    }
    Ok(signin
        .webauthn
        .finish_authentication(&ceremony.state_json, response, credentials))
}

/// Audits a refused WebAuthn step; a counter regression also flags the credential (W6).
pub(crate) async fn refuse_assertion(
    tx: &mut Tx,
    origin: &Origin,
    user_id: UserId,
    refusal: Refusal,
    credential_id: Option<Vec<u8>>,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    let regressed = match (refusal, credential_id) {
        (Refusal::CounterRegressed, Some(credential_id)) => Some(credential_id),
        _ => None,
    };
    if let Some(credential_id) = regressed
        && tx.flag_webauthn_credential(&credential_id, now).await?
    {
        let event = AuditEvent::CredentialCounterRegressed {
            user_id,
            credential_id: hex::encode(&credential_id),
        };
        append(tx, origin, user_id, now, &event).await?;
        tracing::warn!(%user_id, "WebAuthn counter went backwards; credential flagged");
    }
    audit_failure(tx, origin, Some(user_id), "webauthn", refusal.code(), now).await
}

/// Records a refused step in a transaction of its own and returns the uniform failure
/// (STYLE.md 3.11): the refusal is evidence although the step changes nothing else. `tx` must
/// hold no other writes, since it is committed.
pub(crate) async fn refuse(
    mut tx: Tx,
    origin: &Origin,
    user_id: Option<UserId>,
    factor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> SignInError {
    if let Err(error) = audit_failure(&mut tx, origin, user_id, factor, reason, now).await {
        return error;
    }
    match tx.commit().await {
        Ok(()) => SignInError::Failed,
        Err(error) => error.into(),
    }
}

/// Writes a `SIGN_IN_FAILED` event.
pub(crate) async fn audit_failure(
    tx: &mut Tx,
    origin: &Origin,
    user_id: Option<UserId>,
    factor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), SignInError> {
    let event = AuditEvent::SignInFailed {
        user_id,
        factor: factor.to_owned(),
        reason: reason.to_owned(),
    };
    let subject = user_id.map_or(Subject::Installation, Subject::User);
    portner_audit::append(tx, now, &origin.audit(user_id), &subject, &event).await?;
    Ok(())
}

/// Appends an event about `user_id`, caused by that user.
pub(crate) async fn append(
    tx: &mut Tx,
    origin: &Origin,
    user_id: UserId,
    now: DateTime<Utc>,
    event: &AuditEvent,
) -> Result<(), SignInError> {
    portner_audit::append(
        tx,
        now,
        &origin.audit(Some(user_id)),
        &Subject::User(user_id),
        event,
    )
    .await?;
    Ok(())
}
