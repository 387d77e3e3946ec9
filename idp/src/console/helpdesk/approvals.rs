//! The second approver before a lost second factor is replaced (HD-3; ASVS 6.4.4).
//!
//! A reset code for an active or locked account sends it back to pending activation, where
//! the user binds a new security key: it replaces the second factor. One operator must not be
//! able to do that alone, so the first time operator A asks for such a code, A's request is
//! recorded ([`request`]) instead, resting on A's own verification of the caller. A second
//! helpdesk operator B of the user's organisation, neither A nor the user, reviews A's
//! verification and approves ([`approve`]). A then asks for the code again and gets it; the
//! approval is used in the same transaction ([`take_approved`]), so it backs one code only.
//!
//! A request lives as long as the verification it rests on ([`super::VERIFICATION_VALID_MINUTES`]
//! after it was recorded): the approval vouches for that verification, not for a later one.
//! Activation codes for accounts pending activation need no approval: such an account has no
//! factor to lose (see the module documentation of [`super`] for what that leaves open).

use chrono::{DateTime, Duration, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::domain::{
    IdentityProofing, NsisLevel, ProofingMethod, ResetApproval, User, UserStatus,
};
use portner_shared::store::{StoreError, Tx};

use super::{HelpdeskError, VERIFICATION_VALID_MINUTES};
use crate::app::AppState;
use crate::console::access::{Operator, Refusal};

/// A reset request as the consoles list it: the request with the names and the verification
/// details a second operator needs to judge it.
#[derive(Clone, Debug)]
pub struct RequestView {
    /// The request.
    pub request: ResetApproval,
    /// The username of the account to be reset.
    pub username: String,
    /// The requester's username.
    pub requested_by: String,
    /// The approver's username, once approved.
    pub approved_by: Option<String>,
    /// How the requester verified the caller.
    pub method: ProofingMethod,
    /// The level that verification supports.
    pub level: NsisLevel,
}

/// Whether a code for `user` replaces a second factor and so needs a second approver (HD-3):
/// an active or locked account, or a pending one that already holds a security key (one
/// reset, or disabled and re-enabled by an administrator, and not yet activated again). A
/// new account has no factor to lose; a disabled one gets no code at all.
///
/// # Errors
///
/// The store failed.
pub async fn replaces_factor(tx: &mut Tx, user: &User) -> Result<bool, StoreError> {
    Ok(match user.status {
        UserStatus::Active | UserStatus::Locked => true,
        UserStatus::PendingActivation => !tx.webauthn_credentials(user.id).await?.is_empty(),
        UserStatus::Disabled => false,
    })
}

/// The approved, unused, unexpired approval of the operator's own request about `user`
/// resting on `proofing`, marked used in the caller's transaction; `None` if there is none.
///
/// # Errors
///
/// [`HelpdeskError::NotAllowed`] (`APPROVAL_USED`) when another request used the approval
/// first; the store failed.
pub async fn take_approved(
    tx: &mut Tx,
    operator: &Operator,
    user: &User,
    proofing: &IdentityProofing,
    now: DateTime<Utc>,
) -> Result<Option<ResetApproval>, HelpdeskError> {
    let found = tx
        .live_reset_approvals(user.id, now)
        .await?
        .into_iter()
        .find(|request| {
            let approver = request.approved_by;
            request.requested_by == operator.user.id
                && request.proofing_id == proofing.id
                && approver.is_some_and(|by| by != operator.user.id && by != user.id)
        });
    let Some(approval) = found else {
        return Ok(None);
    };
    // The conditional update is what makes the approval single use when two requests race.
    if !tx.use_reset_approval(approval.id, now).await? {
        return Err(HelpdeskError::NotAllowed("APPROVAL_USED"));
    }
    Ok(Some(approval))
}

/// Records the operator's request to reset `user` on the strength of `proofing`, audited as
/// `HELPDESK_APPROVAL_REQUESTED`, in the caller's transaction. Asking again while the same
/// request waits returns it and writes nothing.
///
/// # Errors
///
/// The store or the audit trail failed.
pub async fn request(
    tx: &mut Tx,
    operator: &Operator,
    user: &User,
    proofing: &IdentityProofing,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ResetApproval, HelpdeskError> {
    let waiting = tx
        .live_reset_approvals(user.id, now)
        .await?
        .into_iter()
        .find(|request| {
            request.requested_by == operator.user.id
                && request.proofing_id == proofing.id
                && request.approved_by.is_none()
        });
    // Two first requests at the same instant on PostgreSQL (a double submit) can both miss
    // each other here and both be recorded. Each still needs its own approval and lapses with
    // the verification, so a duplicate costs a line in the list, never a weaker check.
    if let Some(existing) = waiting {
        return Ok(existing);
    }
    let request = ResetApproval {
        id: 0,
        user_id: user.id,
        proofing_id: proofing.id,
        requested_by: operator.user.id,
        reason: reason.to_owned(),
        requested_at: now,
        expires_at: proofing.verified_at + Duration::minutes(VERIFICATION_VALID_MINUTES),
        approved_by: None,
        approved_at: None,
        used_at: None,
    };
    let request = tx.insert_reset_approval(&request).await?;
    let event = AuditEvent::HelpdeskApprovalRequested {
        user_id: user.id,
        approval_id: request.id,
        proofing_id: proofing.id,
        method: proofing.method.to_string(),
        level: proofing.level,
        reason: request.reason.clone(),
    };
    let context = context(operator);
    portner_audit::append(tx, now, &context, &Subject::User(user.id), &event).await?;
    Ok(request)
}

/// Approves request `approval_id` about `user_id` as the second operator, audited as
/// `HELPDESK_RESET_APPROVED` with requester and approver, in one transaction.
///
/// # Errors
///
/// [`HelpdeskError::NotFound`] for an unknown user; [`HelpdeskError::NoSuchRequest`] for a
/// request that does not exist or concerns someone else; [`HelpdeskError::Refused`] for the
/// operator's own account, another organisation's user or the operator's own request;
/// [`HelpdeskError::NotAllowed`] for a request already approved or used (`ALREADY_APPROVED`)
/// or lapsed with its verification (`REQUEST_EXPIRED`).
pub async fn approve(
    state: &AppState,
    operator: &Operator,
    user_id: &str,
    approval_id: i64,
) -> Result<ResetApproval, HelpdeskError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let user = super::target(&mut tx, operator, user_id).await?;
    if user.id == operator.user.id {
        return Err(HelpdeskError::Refused(Refusal::SelfService));
    }
    let request = tx
        .reset_approval(approval_id)
        .await?
        .filter(|request| request.user_id == user.id)
        .ok_or(HelpdeskError::NoSuchRequest)?;
    check_approvable(&request, operator, now)?;
    // Re-checked by the update itself, so a concurrent approval cannot slip in between.
    if !tx.approve_reset(request.id, operator.user.id, now).await? {
        return Err(HelpdeskError::NotAllowed("ALREADY_APPROVED"));
    }
    let event = AuditEvent::HelpdeskResetApproved {
        user_id: user.id,
        approval_id: request.id,
        proofing_id: request.proofing_id,
        requested_by: request.requested_by,
        approved_by: operator.user.id,
    };
    let context = context(operator);
    portner_audit::append(&mut tx, now, &context, &Subject::User(user.id), &event).await?;
    tx.commit().await?;
    Ok(ResetApproval {
        approved_by: Some(operator.user.id),
        approved_at: Some(now),
        ..request
    })
}

/// The refusals that depend on the request itself, in the order an operator can act on them.
fn check_approvable(
    request: &ResetApproval,
    operator: &Operator,
    now: DateTime<Utc>,
) -> Result<(), HelpdeskError> {
    if request.requested_by == operator.user.id {
        return Err(HelpdeskError::Refused(Refusal::OwnRequest));
    }
    if request.approved_by.is_some() || request.used_at.is_some() {
        return Err(HelpdeskError::NotAllowed("ALREADY_APPROVED"));
    }
    if !request.live(now) {
        return Err(HelpdeskError::NotAllowed("REQUEST_EXPIRED"));
    }
    Ok(())
}

/// The live requests in `requests`, with the names and verification details shown beside
/// them. A request whose verification or users have gone is left out.
///
/// # Errors
///
/// The store failed.
pub async fn views(
    tx: &mut Tx,
    requests: Vec<ResetApproval>,
) -> Result<Vec<RequestView>, HelpdeskError> {
    let mut views = Vec::with_capacity(requests.len());
    for request in requests {
        let Some(proofing) = tx.identity_proofing(request.proofing_id).await? else {
            continue;
        };
        let (Some(user), Some(requester)) = (
            tx.user(request.user_id).await?,
            tx.user(request.requested_by).await?,
        ) else {
            continue;
        };
        let approved_by = match request.approved_by {
            Some(id) => tx
                .user(id)
                .await?
                .map(|approver| approver.username.to_string()),
            None => None,
        };
        views.push(RequestView {
            username: user.username.to_string(),
            requested_by: requester.username.to_string(),
            approved_by,
            method: proofing.method,
            level: proofing.level,
            request,
        });
    }
    Ok(views)
}

/// The requests waiting for a second operator in the organisations where `operator` holds
/// the helpdesk role, oldest first.
///
/// # Errors
///
/// The store failed.
pub async fn awaiting(
    state: &AppState,
    operator: &Operator,
) -> Result<Vec<RequestView>, HelpdeskError> {
    let now = state.clock.now();
    let mut tx = state.store.read().await?;
    let mut requests = Vec::new();
    for org in operator.organisations(portner_shared::domain::Role::Helpdesk) {
        requests.extend(tx.awaiting_reset_approvals(&org, now).await?);
    }
    let views = views(&mut tx, requests).await?;
    tx.rollback().await?;
    Ok(views)
}

fn context(operator: &Operator) -> AuditContext {
    operator.origin.audit(Some(operator.user.id))
}
