//! The helpdesk: verify a caller's identity, then reset, unlock, revoke or demand a new
//! password, each step written with its audit event in one transaction (issue 5, item 2).
//!
//! Every credential action rests on an identity verification that the same operator recorded
//! for the same user less than [`VERIFICATION_VALID_MINUTES`] ago (HD-1). The
//! verification's level caps the account's identity level (HD-2, IP-3): an account helped on
//! the strength of a call-back is Low from then on, until it is proofed again. Codes are the
//! activation codes of issue 3, valid for [`CODE_VALID_MINUTES`] (HD-4): the user chooses the
//! password and binds a new security key at `/activate`, so staff never choose or see a
//! password (PW-5) and a reset never skips the second factor (HD-6).
//!
//! A code for an account that holds a second factor (active, locked, or pending with a key)
//! replaces that factor, so it also needs a second operator's approval ([`approvals`], HD-3;
//! ASVS 6.4.4): the first request is recorded and waits, a colleague approves it, and the
//! requester's next request issues the code and uses the approval in the same transaction.
//!
//! Known gaps:
//! - the method-to-level policy ([`method_cap`]) is one for the installation, set in the
//!   configuration file or by an administrator within the ceilings NSIS allows; extra
//!   methods of an organisation's own cannot be configured;
//! - "require a password change" is recorded, shown, met by any password change, and stops
//!   single sign-on until then (`saml::sso::decide`), but the sign-in itself succeeds so that
//!   the account page, where the change is made, stays reachable.
//!
//! With an SMTP relay, a code may be e-mailed to the account's address instead of shown
//! (`pages::emailed_page`); it falls back to the screen when the relay fails.
//!
//! The user is told of every reset, unlock and revocation by a notice queued in the action's
//! transaction ([`crate::notify`], HD-5).

pub mod approvals;
pub mod pages;

#[cfg(test)]
mod approval_tests;
#[cfg(test)]
mod http_tests;

use chrono::{DateTime, Duration, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::config::SignInSettings;
use portner_shared::domain::{
    IdDocument, IdentityProofing, NsisLevel, ProofingMethod, ResetApproval, Role, SignInFailures,
    User, UserId, UserStatus,
};
use portner_shared::store::{StoreError, Tx};

use super::access::{Operator, Refusal};
use crate::app::AppState;
use crate::notify::Notice;
use crate::signin::SignInError;
use crate::signin::activation::{self, IssuedCode};

/// How long a recorded verification backs actions: one call, not a shift.
pub const VERIFICATION_VALID_MINUTES: i64 = 30;
/// How long a helpdesk code works (HD-4: at most 60 minutes).
pub const CODE_VALID_MINUTES: i64 = 60;
/// Longest reference or reason accepted, in characters.
const MAX_TEXT_CHARS: usize = 200;

/// The highest level a verification method supports at the helpdesk under the policy in
/// force, or `None` when the helpdesk may not use it: an authoritative source is a MitID
/// sign-in or HR data, not a conversation, and a method whose ceiling the policy sets to 0 is
/// not offered.
///
/// The policy's ranges keep the ceilings NSIS allows: photo ID in person or on video can
/// support Substantial only when the operator has checked the document against an
/// authoritative source (IP-3; the operator states the level, and this is the ceiling), and a
/// call-back proves control of a registered number, not identity, so it never exceeds Low.
/// An administrator may lower a ceiling or withdraw a method (`helpdesk_*_level`), never
/// raise one beyond that.
pub fn method_cap(method: ProofingMethod, policy: &SignInSettings) -> Option<NsisLevel> {
    let ceiling = match method {
        ProofingMethod::AuthoritativeSource => return None,
        ProofingMethod::CallBack => policy.helpdesk_call_back_level.min(1),
        ProofingMethod::InPerson => policy.helpdesk_in_person_level,
        ProofingMethod::VideoCall => policy.helpdesk_video_call_level,
    };
    match ceiling {
        0 => None,
        1 => Some(NsisLevel::Low),
        _ => Some(NsisLevel::Substantial),
    }
}

/// Why a helpdesk operation was not carried out. Nothing was written in any case, except the
/// audit record of a refusal.
#[derive(Debug, thiserror::Error)]
pub enum HelpdeskError {
    /// A field is missing, too long or malformed.
    #[error("BAD_INPUT: {0}")]
    BadInput(&'static str),
    /// The verification does not hold up: method not offered, level above the method's
    /// ceiling, document missing, or a reference that looks like a CPR number.
    #[error("INVALID_VERIFICATION: {0}")]
    InvalidVerification(&'static str),
    /// No such user.
    #[error("NOT_FOUND")]
    NotFound,
    /// No such reset request for this user (HD-3).
    #[error("NO_SUCH_REQUEST")]
    NoSuchRequest,
    /// Refused for who is asking (own account, other organisation, no verification).
    #[error("REFUSED: {}", .0.code())]
    Refused(Refusal),
    /// The account's state does not allow the action (e.g. unlocking an unlocked account).
    #[error("NOT_ALLOWED: {0}")]
    NotAllowed(&'static str),
    /// The store, audit trail or random source failed.
    #[error(transparent)]
    SignIn(#[from] SignInError),
}

impl From<StoreError> for HelpdeskError {
    fn from(error: StoreError) -> Self {
        Self::SignIn(error.into())
    }
}

impl From<portner_audit::AuditError> for HelpdeskError {
    fn from(error: portner_audit::AuditError) -> Self {
        Self::SignIn(error.into())
    }
}

/// An identity verification as the operator enters it, checked.
#[derive(Clone, Debug)]
pub struct Verification {
    /// How the caller was verified.
    pub method: ProofingMethod,
    /// The photo ID checked; required for in-person and video verification.
    pub document_type: Option<IdDocument>,
    /// Document serial or case number.
    pub reference: String,
    /// The level the operator judges the verification to support.
    pub level: NsisLevel,
}

impl Verification {
    /// Checks the form fields against the method policy in force (`policy`).
    ///
    /// # Errors
    ///
    /// [`HelpdeskError::BadInput`] for unreadable fields, [`HelpdeskError::InvalidVerification`]
    /// when they do not fit together.
    pub fn parse(
        method: &str,
        document: &str,
        reference: &str,
        level: &str,
        policy: &SignInSettings,
    ) -> Result<Self, HelpdeskError> {
        let method: ProofingMethod = method
            .parse()
            .map_err(|_| HelpdeskError::BadInput("method"))?;
        let level: NsisLevel = level
            .parse()
            .map_err(|_| HelpdeskError::BadInput("level"))?;
        let document_type = match document {
            "" => None,
            text => Some(
                text.parse()
                    .map_err(|_| HelpdeskError::BadInput("document_type"))?,
            ),
        };
        let reference = free_text(reference, "reference")?;
        let cap = method_cap(method, policy).ok_or(HelpdeskError::InvalidVerification("METHOD"))?;
        if level > cap {
            return Err(HelpdeskError::InvalidVerification("LEVEL_ABOVE_METHOD"));
        }
        let photo_id = matches!(method, ProofingMethod::InPerson | ProofingMethod::VideoCall);
        if photo_id && document_type.is_none() {
            return Err(HelpdeskError::InvalidVerification("DOCUMENT_REQUIRED"));
        }
        if looks_like_cpr(&reference) {
            return Err(HelpdeskError::InvalidVerification("CPR_IN_REFERENCE"));
        }
        Ok(Self {
            method,
            document_type: document_type.filter(|_| photo_id),
            reference,
            level,
        })
    }
}

/// What an operator asks to do, resting on a verification.
#[derive(Clone, Debug)]
pub enum Action {
    /// Issue an activation code (pending user) or a reset code (active or locked user).
    Code,
    /// Remove a lockout.
    Unlock,
    /// Remove one WebAuthn credential (its ID).
    RevokeCredential(Vec<u8>),
    /// Ask the user to choose a new password.
    RequirePasswordChange,
}

/// A completed action: what it was, and the code when one was issued (shown once).
#[derive(Debug)]
pub struct Outcome {
    /// The action's audit name.
    pub action: &'static str,
    /// The code, for code actions.
    pub code: Option<IssuedCode>,
    /// The account's identity level afterwards.
    pub level_after: NsisLevel,
}

/// What a helpdesk action led to.
#[derive(Debug)]
pub enum Acted {
    /// A reset of an active or locked account waits for a second operator's approval
    /// (HD-3); the request was recorded and nothing else changed.
    AwaitingApproval(ResetApproval),
    /// The action was carried out.
    Done(Outcome),
}

/// Checks free text: trimmed, 1 to 200 characters, no control characters (LG-7).
///
/// # Errors
///
/// [`HelpdeskError::BadInput`] naming the field.
pub fn free_text(text: &str, field: &'static str) -> Result<String, HelpdeskError> {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > MAX_TEXT_CHARS || trimmed.chars().any(char::is_control) {
        return Err(HelpdeskError::BadInput(field));
    }
    Ok(trimmed.to_owned())
}

/// Whether the text holds ten digits in a row, with or without the dash after the sixth:
/// the shape of a CPR number, which must never be stored as a reference.
fn looks_like_cpr(text: &str) -> bool {
    let digits_only: String = text.chars().filter(|&c| c != '-').collect();
    let mut run = 0;
    for character in digits_only.chars() {
        run = if character.is_ascii_digit() {
            run + 1
        } else {
            0
        };
        if run >= 10 {
            return true;
        }
    }
    false
}

/// The user an operator may help: exists, and in an organisation where the operator holds
/// the helpdesk role.
///
/// # Errors
///
/// [`HelpdeskError::NotFound`] for a malformed or unknown ID;
/// [`HelpdeskError::Refused`] for a user of another organisation.
pub async fn target(tx: &mut Tx, operator: &Operator, id: &str) -> Result<User, HelpdeskError> {
    let id: UserId = id.parse().map_err(|_| HelpdeskError::NotFound)?;
    let user = tx.user(id).await?.ok_or(HelpdeskError::NotFound)?;
    if !operator.holds(Role::Helpdesk, &user.org) {
        return Err(HelpdeskError::Refused(Refusal::WrongOrganisation));
    }
    Ok(user)
}

/// Records an identity verification of `user_id` by the operator (HD-1).
///
/// # Errors
///
/// [`HelpdeskError::Refused`] for the operator's own account or another organisation's user.
pub async fn record_verification(
    state: &AppState,
    operator: &Operator,
    user_id: &str,
    verification: &Verification,
) -> Result<IdentityProofing, HelpdeskError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let user = target(&mut tx, operator, user_id).await?;
    if user.id == operator.user.id {
        return Err(HelpdeskError::Refused(Refusal::SelfService));
    }
    let context = context(operator);
    let record = IdentityProofing {
        id: 0,
        user_id: user.id,
        method: verification.method,
        reference: verification.reference.clone(),
        level: verification.level,
        verified_by: context.actor.to_string(),
        verified_at: now,
        document_type: verification.document_type,
    };
    let record = tx.insert_identity_verification(&record).await?;
    let event = AuditEvent::HelpdeskIdentityVerified {
        user_id: user.id,
        proofing_id: record.id,
        method: record.method.to_string(),
        document_type: record.document_type.map(|document| document.to_string()),
        level: record.level,
    };
    portner_audit::append(&mut tx, now, &context, &Subject::User(user.id), &event).await?;
    tx.commit().await?;
    Ok(record)
}

/// The operator's newest verification of `user` that still backs actions, if any.
///
/// # Errors
///
/// The store failed.
pub async fn live_verification(
    tx: &mut Tx,
    operator: &Operator,
    user: &User,
    now: DateTime<Utc>,
    policy: &SignInSettings,
) -> Result<Option<IdentityProofing>, HelpdeskError> {
    let records = tx.identity_proofings(user.id).await?;
    Ok(records
        .into_iter()
        .rev()
        .find(|record| backs_actions(record, operator, user, now, policy)))
}

/// Whether `record` backs the operator's actions on `user` now: theirs, fresh, about this
/// user, and made with a method the policy in force still offers (a method withdrawn since
/// backs nothing more).
fn backs_actions(
    record: &IdentityProofing,
    operator: &Operator,
    user: &User,
    now: DateTime<Utc>,
    policy: &SignInSettings,
) -> bool {
    let by_operator = record.verified_by == context(operator).actor.to_string();
    let fresh = now - record.verified_at < Duration::minutes(VERIFICATION_VALID_MINUTES);
    let offered = method_cap(record.method, policy).is_some();
    by_operator && fresh && record.user_id == user.id && offered
}

/// Carries out `action` on `user_id`, resting on verification `proofing_id`, with the
/// operator's `reason`; everything in one transaction. A reset code for an active or locked
/// account is issued only with a second operator's approval of this operator's request on
/// the same verification; without one, the request is recorded instead (HD-3).
///
/// # Errors
///
/// [`HelpdeskError::Refused`] for the operator's own account, another organisation's user, or
/// a verification that is missing, stale, someone else's or about someone else;
/// [`HelpdeskError::NotAllowed`] when the account's state rules the action out.
pub async fn act(
    state: &AppState,
    operator: &Operator,
    user_id: &str,
    proofing_id: i64,
    reason: &str,
    action: &Action,
) -> Result<Acted, HelpdeskError> {
    let reason = free_text(reason, "reason")?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let user = target(&mut tx, operator, user_id).await?;
    if user.id == operator.user.id {
        return Err(HelpdeskError::Refused(Refusal::SelfService));
    }
    let policy = state.signin.settings();
    let proofing = tx
        .identity_proofing(proofing_id)
        .await?
        .filter(|record| backs_actions(record, operator, &user, now, &policy))
        .ok_or(HelpdeskError::Refused(Refusal::VerificationRequired))?;

    // HD-3: a code that replaces a second factor rests on a colleague's approval.
    let replaces_factor = approvals::replaces_factor(&mut tx, &user).await?;
    let approval = match action {
        Action::Code if replaces_factor => {
            let taken = approvals::take_approved(&mut tx, operator, &user, &proofing, now).await?;
            if taken.is_none() {
                let request =
                    approvals::request(&mut tx, operator, &user, &proofing, &reason, now).await?;
                tx.commit().await?;
                return Ok(Acted::AwaitingApproval(request));
            }
            taken
        }
        _ => None,
    };

    let context = context(operator);
    let (name, code) = match action {
        Action::Code => issue(&mut tx, &context, &user, &proofing, now).await?,
        Action::Unlock => (unlock(&mut tx, &context, &user, now).await?, None),
        Action::RevokeCredential(id) => (revoke(&mut tx, &context, &user, id, now).await?, None),
        Action::RequirePasswordChange => {
            (require_change(&mut tx, &context, &user, now).await?, None)
        }
    };
    let capped = cap_level(&mut tx, &user, proofing.level, now).await?;
    // Activating with a code sets the account to the code's level, the verification's.
    let level_after = match action {
        Action::Code => proofing.level,
        _ => capped,
    };
    let event = AuditEvent::HelpdeskActionTaken {
        user_id: user.id,
        action: name.to_owned(),
        proofing_id: proofing.id,
        method: proofing.method.to_string(),
        reason,
        level_after,
        approval_id: approval.as_ref().map(|approval| approval.id),
        approved_by: approval.and_then(|approval| approval.approved_by),
    };
    portner_audit::append(&mut tx, now, &context, &Subject::User(user.id), &event).await?;
    tx.commit().await?;
    Ok(Acted::Done(Outcome {
        action: name,
        code,
        level_after,
    }))
}

fn context(operator: &Operator) -> AuditContext {
    operator.origin.audit(Some(operator.user.id))
}

/// An activation code for a pending user; for an active or locked one, a reset: the account
/// goes back to pending activation, its sessions end (SS-6) and its lockout is cleared, so the
/// code is the only way back in.
async fn issue(
    tx: &mut Tx,
    context: &AuditContext,
    user: &User,
    proofing: &IdentityProofing,
    now: DateTime<Utc>,
) -> Result<(&'static str, Option<IssuedCode>), HelpdeskError> {
    let name = match user.status {
        UserStatus::PendingActivation => "activation_code",
        UserStatus::Active | UserStatus::Locked => {
            set_status(tx, context, user, UserStatus::PendingActivation, now).await?;
            end_sessions(tx, context, user, "helpdesk_reset", now).await?;
            tx.set_sign_in_failures(user.id, no_failures(), now).await?;
            crate::notify::enqueue(tx, user.id, Notice::ResetCodeIssued, now).await?;
            "reset_code"
        }
        UserStatus::Disabled => return Err(HelpdeskError::NotAllowed("DISABLED")),
    };
    let validity = Duration::minutes(CODE_VALID_MINUTES);
    let code = activation::issue_code_in(
        tx,
        context,
        user.id,
        Some(proofing.id),
        proofing.level,
        validity,
        now,
    )
    .await?;
    Ok((name, Some(code)))
}

/// Clears a running lockout and the failure count; a `locked` status becomes `active`.
async fn unlock(
    tx: &mut Tx,
    context: &AuditContext,
    user: &User,
    now: DateTime<Utc>,
) -> Result<&'static str, HelpdeskError> {
    let failures = tx.sign_in_failures(user.id).await?;
    let running = failures.locked_until.is_some_and(|until| until > now);
    if !running && user.status != UserStatus::Locked {
        return Err(HelpdeskError::NotAllowed("NOT_LOCKED"));
    }
    tx.set_sign_in_failures(user.id, no_failures(), now).await?;
    if user.status == UserStatus::Locked {
        set_status(tx, context, user, UserStatus::Active, now).await?;
    }
    let event = AuditEvent::AccountUnlocked { user_id: user.id };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    crate::notify::enqueue(tx, user.id, Notice::Unlocked, now).await?;
    Ok("unlock")
}

/// Removes one of the user's credentials and ends their sessions (AU-8, SS-6). Removing the
/// last one is allowed here, unlike in self-service: a lost key is the usual reason to call.
async fn revoke(
    tx: &mut Tx,
    context: &AuditContext,
    user: &User,
    credential_id: &[u8],
    now: DateTime<Utc>,
) -> Result<&'static str, HelpdeskError> {
    let owned = tx
        .webauthn_credentials(user.id)
        .await?
        .iter()
        .any(|credential| credential.credential_id == credential_id);
    if !owned || !tx.delete_webauthn_credential(credential_id).await? {
        return Err(HelpdeskError::NotAllowed("NO_SUCH_CREDENTIAL"));
    }
    let event = AuditEvent::CredentialRemoved {
        user_id: user.id,
        credential_id: hex::encode(credential_id),
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    crate::notify::enqueue(tx, user.id, Notice::CredentialRemoved, now).await?;
    end_sessions(tx, context, user, "credential_change", now).await?;
    Ok("revoke_credential")
}

async fn require_change(
    tx: &mut Tx,
    context: &AuditContext,
    user: &User,
    now: DateTime<Utc>,
) -> Result<&'static str, HelpdeskError> {
    let by = context.actor.to_string();
    if !tx.require_password_change(user.id, &by, now).await? {
        return Err(HelpdeskError::NotAllowed("ALREADY_REQUIRED"));
    }
    Ok("require_password_change")
}

/// Lowers the account's identity level to the verification's, if it was higher (HD-2), and
/// returns the level now held.
async fn cap_level(
    tx: &mut Tx,
    user: &User,
    verified: NsisLevel,
    now: DateTime<Utc>,
) -> Result<NsisLevel, HelpdeskError> {
    let capped = user.identity_level.min(verified);
    if capped != user.identity_level {
        tx.set_identity_level(user.id, capped, now).await?;
    }
    Ok(capped)
}

async fn set_status(
    tx: &mut Tx,
    context: &AuditContext,
    user: &User,
    status: UserStatus,
    now: DateTime<Utc>,
) -> Result<(), HelpdeskError> {
    tx.set_user_status(user.id, status, now).await?;
    portner_idm_sync::enqueue::user_status_changed(tx, user, user.status, status, now).await?;
    let event = AuditEvent::UserStatusChanged {
        user_id: user.id,
        from: user.status,
        to: status,
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    Ok(())
}

async fn end_sessions(
    tx: &mut Tx,
    context: &AuditContext,
    user: &User,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), HelpdeskError> {
    if tx.delete_sessions_of(user.id).await? == 0 {
        return Ok(());
    }
    let event = AuditEvent::SessionEnded {
        user_id: user.id,
        reason: reason.to_owned(),
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    Ok(())
}

const fn no_failures() -> SignInFailures {
    SignInFailures {
        failures: 0,
        locked_until: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lowers_or_withdraws_a_method_but_never_raises_it() {
        let policy = SignInSettings::default()
            .with_policy("helpdesk_in_person_level", 1)
            .and_then(|policy| policy.with_policy("helpdesk_call_back_level", 0))
            .unwrap();
        let parse = |method, level| {
            Verification::parse(method, "passport", "AB1234567", level, &policy).map(|_| ())
        };
        assert_eq!(
            parse("in_person", "substantial").unwrap_err().to_string(),
            "INVALID_VERIFICATION: LEVEL_ABOVE_METHOD"
        );
        assert!(parse("in_person", "low").is_ok());
        assert!(parse("video_call", "substantial").is_ok());
        assert_eq!(
            parse("call_back", "low").unwrap_err().to_string(),
            "INVALID_VERIFICATION: METHOD"
        );
        assert!(
            SignInSettings::default()
                .with_policy("helpdesk_call_back_level", 2)
                .is_none(),
            "a call-back never supports Substantial"
        );
        assert_eq!(
            method_cap(ProofingMethod::AuthoritativeSource, &policy),
            None
        );
    }

    #[test]
    fn verifications_respect_the_method_ceiling_and_refuse_cpr_numbers() {
        let ok = Verification::parse(
            "in_person",
            "passport",
            "AB1234567",
            "substantial",
            &SignInSettings::default(),
        );
        assert_eq!(ok.unwrap().level, NsisLevel::Substantial);

        let cases = [
            (
                "call_back",
                "",
                "case 77",
                "substantial",
                "LEVEL_ABOVE_METHOD",
            ),
            ("authoritative_source", "", "hr", "low", "METHOD"),
            ("video_call", "", "AB1234567", "low", "DOCUMENT_REQUIRED"),
            (
                "in_person",
                "passport",
                "010190-1234",
                "low",
                "CPR_IN_REFERENCE",
            ),
        ];
        for (method, document, reference, level, code) in cases {
            match Verification::parse(
                method,
                document,
                reference,
                level,
                &SignInSettings::default(),
            ) {
                Err(HelpdeskError::InvalidVerification(found)) => assert_eq!(found, code),
                other => panic!("{method}: {other:?}"),
            }
        }
        assert!(matches!(
            Verification::parse(
                "in_person",
                "passport",
                " ",
                "low",
                &SignInSettings::default()
            ),
            Err(HelpdeskError::BadInput("reference"))
        ));
        assert!(matches!(
            Verification::parse(
                "in_person",
                "passport",
                "a\nb",
                "low",
                &SignInSettings::default()
            ),
            Err(HelpdeskError::BadInput("reference"))
        ));
    }

    #[test]
    fn a_call_back_keeps_no_document() {
        let verification = Verification::parse(
            "call_back",
            "passport",
            "case 7",
            "low",
            &SignInSettings::default(),
        )
        .unwrap();
        assert_eq!(verification.document_type, None);
    }
}
