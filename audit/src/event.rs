//! The typed audit events and who, what and where they concern.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use portner_shared::domain::{
    ApiTokenId, Cvr, GroupId, NsisLevel, Role, ScimTokenId, UserId, UserStatus, Username,
};
use serde::Serialize;

/// A security-relevant event. One variant per kind; later features add their own.
///
/// Fields are typed and hold the minimum of personal data: user IDs rather than names where
/// possible, never CPR numbers, passwords, codes or keys. Each variant's documentation names
/// the NSIS requirement or audit-statement evidence it supports (IDs from
/// `oiosaml3-nsis.md`).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditEvent {
    /// The data folder's keys were generated on first start (LG-1 "certificates"; EV-10).
    KeyGenerated {
        /// What the key is for: `signing`, `encryption`, `cpr` or `audit`.
        purpose: String,
        /// SHA-256 of the certificate (hex), or of nothing for a symmetric key.
        fingerprint: Option<String>,
    },
    /// An organisation was registered (LG-1 admin changes; EV-6 system description).
    OrganisationCreated {
        /// Its CVR number.
        cvr: Cvr,
        /// Its registered name.
        name: String,
        /// The `subjectNameId` suffix.
        suffix: String,
    },
    /// An organisation's name, SE numbers or P-units were changed (issue 5 item 4; LG-1 admin
    /// changes). The values after the change; none of them is personal data.
    OrganisationChanged {
        /// Its CVR number.
        cvr: Cvr,
        /// Its registered name.
        name: String,
        /// Its SE numbers.
        se_numbers: Vec<String>,
        /// Its P-units.
        p_units: Vec<String>,
    },
    /// An administrator changed a sign-in policy at run time, or returned it to the
    /// configuration file's value (issue 5 item 4; LG-1 admin changes; EV-7). A
    /// `CONFIGURATION_APPLIED` snapshot with the new value follows in the same transaction.
    PolicyChanged {
        /// The policy's key, as in `docs/configuration.md`.
        key: String,
        /// The value in force before.
        from: u32,
        /// The value in force after.
        to: u32,
        /// Whether the new value is an administrator's override (`false`: the file's value
        /// applies again).
        overridden: bool,
    },
    /// A user was created (LG-1 "activation"; EV-9 per-person status history).
    UserCreated {
        /// The new user.
        user_id: UserId,
        /// Their organisation.
        org: Cvr,
        /// Their username, needed to tie MitID Erhverv's `subjectNameId` to the record.
        username: Username,
        /// Whether a CPR number was stored (the number itself never is in the trail).
        with_cpr: bool,
    },
    /// A user's lifecycle state changed (AU-8 suspension; EV-9, EV-11).
    UserStatusChanged {
        /// The user.
        user_id: UserId,
        /// The state before.
        from: UserStatus,
        /// The state after.
        to: UserStatus,
    },
    /// An identity verification was recorded (IP-*, HD-1; EV-9, EV-12).
    IdentityProofingRecorded {
        /// The person verified.
        user_id: UserId,
        /// The method's name.
        method: String,
        /// The level the verification supports.
        level: NsisLevel,
    },
    // SAML (issue 4).
    /// A service provider was registered from its metadata (LG-1 "SPs, certificates"; EV-10).
    ServiceProviderRegistered {
        /// Its entityID.
        entity_id: String,
        /// `own` or `nemlogin`.
        profile: String,
        /// SHA-256 fingerprints of the signing certificates taken from its metadata.
        signing_certificates: Vec<String>,
    },
    /// A service provider was removed (EV-10).
    ServiceProviderRemoved {
        /// Its entityID.
        entity_id: String,
    },
    // Sign-in (issue 3).
    /// A sign-in step succeeded (LG-1 authentication; ASVS 16.3.1).
    SignInSucceeded {
        /// Who signed in.
        user_id: UserId,
        /// `password` or `webauthn`: the factor this step verified.
        factor: String,
        /// The session level reached after this step (SS-1).
        level: NsisLevel,
    },
    /// A sign-in step failed. The page shows the same answer whatever the reason; the trail
    /// keeps the reason (LK-3, ASVS 16.3.1).
    SignInFailed {
        /// The account, when the username named one.
        user_id: Option<UserId>,
        /// `password` or `webauthn`.
        factor: String,
        /// Stable reason code, e.g. `WRONG_PASSWORD`, `UNKNOWN_USER`, `LOCKED`, `REPLAY`.
        reason: String,
    },
    /// Too many wrong passwords locked an account: an alarm (LK-1, LK-3; EV-13).
    AccountLocked {
        /// The account.
        user_id: UserId,
        /// Consecutive failures counted.
        failures: i64,
        /// When the lock ends (RFC 3339).
        until: String,
    },
    /// A lockout ended: noticed at the first attempt after its end (LK-1).
    AccountUnlocked {
        /// The account.
        user_id: UserId,
    },
    /// A WebAuthn assertion carried a signature counter at or below the stored one: the
    /// credential may be cloned, is flagged and refused from now on (W6, LK-3 alarm).
    CredentialCounterRegressed {
        /// The holder.
        user_id: UserId,
        /// The credential ID (hex).
        credential_id: String,
    },
    /// A one-time activation code was issued (IP-*, AU-7; EV-9).
    ActivationCodeIssued {
        /// The account.
        user_id: UserId,
        /// The identity-proofing record the code rests on, if any.
        proofing_id: Option<i64>,
        /// The identity level activation will give.
        level: NsisLevel,
        /// When the code expires (RFC 3339).
        expires: String,
    },
    /// An account was activated: password chosen, first credential bound (AU-5, AU-7).
    AccountActivated {
        /// The account.
        user_id: UserId,
        /// The identity level the account now has.
        level: NsisLevel,
    },
    /// A WebAuthn credential was bound, at the level of the binding session (AU-5; EV-9).
    CredentialAdded {
        /// The holder.
        user_id: UserId,
        /// The credential ID (hex).
        credential_id: String,
        /// The credential's level.
        level: NsisLevel,
    },
    /// A WebAuthn credential was renamed by its holder.
    CredentialRenamed {
        /// The holder.
        user_id: UserId,
        /// The credential ID (hex).
        credential_id: String,
    },
    /// A WebAuthn credential was removed (AU-8).
    CredentialRemoved {
        /// The holder.
        user_id: UserId,
        /// The credential ID (hex).
        credential_id: String,
    },
    /// The user changed their password (PW-5).
    PasswordChanged {
        /// The account.
        user_id: UserId,
    },
    /// A session ended (SS-2, SS-6; ASVS 7.4.1).
    SessionEnded {
        /// The holder.
        user_id: UserId,
        /// `sign_out`, `ended_by_user`, `idle`, `expired` or `credential_change`.
        reason: String,
    },
    // Audit evidence (issue 7).
    /// The chain head was signed with the audit key (LG-5; EV-8).
    CheckpointWritten {
        /// The checkpointed sequence number.
        seq: i64,
        /// Its hash, hex.
        hash: String,
        /// Fingerprint of the audit certificate.
        key_fingerprint: String,
    },
    /// Records up to a checkpoint were removed under the retention policy; the checkpoint is
    /// the chain's new anchor (LG-3; EV-14 "what was destroyed when, per category").
    AuditPruned {
        /// The checkpoint that is now the anchor.
        through_seq: i64,
        /// Its hash, hex.
        anchor_hash: String,
        /// Lifecycle and administration records removed.
        removed_lifecycle: i64,
        /// Per-message SAML records removed.
        removed_saml: i64,
    },
    /// An evidence pack was exported (LG-8: access to the trail is itself logged; EV-8).
    EvidenceExported {
        /// Start of the period, epoch milliseconds, inclusive.
        from: i64,
        /// End of the period, epoch milliseconds, exclusive.
        to: i64,
        /// First and last sequence number in the pack (0 and -1 when it holds none).
        first_seq: i64,
        /// Last sequence number in the pack.
        last_seq: i64,
        /// SHA-256 of the pack's manifest, hex.
        manifest_sha256: String,
    },
    // MitID Erhverv IdM sync (issue 6).
    /// A sync action reached its end: MitID Erhverv was changed, or already matched, or the
    /// intent was stale (AU-8 timely suspension, lifecycle propagation; EV-9).
    SyncActionDone {
        /// `upsert_user`, `suspend_user`, `sync_rights` or `delete_user`.
        action: String,
        /// The local user.
        user_id: UserId,
        /// The remote identity, if known.
        employee_uuid: Option<String>,
        /// What happened, e.g. `created`, `suspended`, `already_active`, `stale_dropped`.
        outcome: String,
    },
    /// A sync action failed transiently and will be retried (mitid-erhverv-idm-api.md §7.3).
    SyncActionRetried {
        /// The action.
        action: String,
        /// The local user.
        user_id: UserId,
        /// The attempt that failed (1-based).
        attempt: i64,
        /// The error class code, e.g. `IDM_TRANSIENT`.
        error_code: String,
        /// The HTTP status, 0 for I/O errors.
        status: u16,
    },
    /// A sync action was given up, with the reason (§7.3 `failed`).
    SyncActionFailed {
        /// The action.
        action: String,
        /// The local user.
        user_id: UserId,
        /// The error class code.
        error_code: String,
        /// Why, in words (no personal data).
        reason: String,
    },
    /// An existing MitID Erhverv identity was linked to a local user by a re-link rule
    /// (§7.4; EV-9).
    SyncIdentityAdopted {
        /// The local user.
        user_id: UserId,
        /// The identity adopted.
        employee_uuid: String,
        /// `RL1`, `RL2`, `RL3`, `LOOKUP` (crash recovery before creating), or
        /// `MIGRATION_RID`, `MIGRATION_EMAIL`, `MIGRATION_CPR` (`portner sync migrate`).
        rule: String,
    },
    /// The reconciler found drift between MitID Erhverv and the desired state (§7.5).
    SyncDriftFound {
        /// The finding code, e.g. `ACCOUNT_DELETED`.
        finding: String,
        /// The local user, if any.
        user_id: Option<UserId>,
        /// The remote identity, if any.
        employee_uuid: Option<String>,
    },
    /// The MitID Erhverv role catalogue (R1) was imported into Portner's rights catalogue,
    /// and something changed (issue 6 item 4; LG-1). Only written when roles were added or
    /// renamed.
    MitIdErhvervCatalogueImported {
        /// The organisation whose catalogue was read.
        org: Cvr,
        /// Roles the catalogue offers.
        offered: u64,
        /// Roles new to Portner's catalogue.
        added: u64,
        /// Roles whose name changed.
        renamed: u64,
        /// Roles left out: a key that is not a valid right key, or one a local right holds.
        skipped: u64,
    },
    /// The IdM API refused the organisation's certificate after a token refresh; the worker
    /// stopped (§2.5, §7.3 `Unauthorized`).
    SyncUnauthorized {
        /// The organisation.
        org: Cvr,
    },
    /// Sync was turned on or its settings changed for an organisation (LG-1 admin changes).
    SyncEnabled {
        /// The organisation.
        org: Cvr,
        /// `light` or `local_idp`.
        mode: String,
        /// The group whose members alone are synced, if the sync is scoped to one.
        scope_group: Option<GroupId>,
        /// Users queued for the initial load.
        queued: u64,
        /// Linked users queued for suspension because they are outside the scope group.
        suspended: u64,
    },
    /// An operator put a failed sync action back in the queue (issue 6, item 5; LG-1).
    SyncActionRequeued {
        /// The outbox action's ID.
        action_id: i64,
        /// The organisation.
        org: Cvr,
        /// `upsert_user`, `suspend_user`, `sync_rights` or `delete_user`.
        action: String,
        /// The local user.
        user_id: UserId,
    },
    /// An operator dismissed a failed sync action: it stays failed, for the record, but no
    /// longer counts as an open failure (issue 6, item 5; LG-1).
    SyncActionDismissed {
        /// The outbox action's ID.
        action_id: i64,
        /// The organisation.
        org: Cvr,
        /// The action.
        action: String,
        /// The local user.
        user_id: UserId,
    },
    // Single sign-on (issue 4). Kinds start with `SAML_`: per-message events with their own
    // retention period (LG-4).
    /// An AuthnRequest passed every check and waits for the user (RQ-*; LG-1 "requests").
    SamlRequestAccepted {
        /// The SP's entityID.
        issuer: String,
        /// The request ID.
        request_id: String,
        /// `redirect` or `post`.
        binding: String,
        /// `ForceAuthn` was set.
        force_authn: bool,
        /// `IsPassive` was set.
        is_passive: bool,
        /// `Scoping/RequesterID` values (RQ-5).
        requester_ids: Vec<String>,
    },
    /// An AuthnRequest was refused (security-tests.md §0 reason codes).
    SamlRequestRefused {
        /// The SP's entityID when the request named a registered one.
        issuer: Option<String>,
        /// The request ID once verified.
        request_id: Option<String>,
        /// The stable reason code, e.g. `SIG_INVALID`, `REPLAY`, `NO_PASSIVE`.
        reason: String,
        /// Whether a signed error Response went to the verified ACS (RS-11); otherwise only
        /// Portner's error page was shown.
        answered: bool,
    },
    /// An assertion was issued (LG-1 "assertions"; NL-8).
    SamlResponseIssued {
        /// The SP's entityID.
        sp: String,
        /// The user it names.
        user_id: UserId,
        /// The NameID sent.
        name_id: String,
        /// The level asserted (AT-2).
        level: NsisLevel,
        /// The assertion ID.
        assertion_id: String,
        /// The request answered.
        in_response_to: String,
    },
    /// An SP asked for single logout (SL-1, SL-4).
    SamlLogout {
        /// The SP's entityID.
        sp: String,
        /// Whose session ended, when the request named one.
        user_id: Option<UserId>,
        /// `SUCCESS` (no other SP took part), `PROPAGATING` (the other SPs are told next,
        /// SL-2) or `NO_SESSION`.
        status: String,
        /// How many other SPs took part in the session.
        other_participants: u64,
    },
    // Roles and the helpdesk (issue 5).
    /// A staff role was granted in an organisation (LG-1 admin changes; EV-9).
    RoleGranted {
        /// The holder.
        user_id: UserId,
        /// The organisation the role applies to.
        org: Cvr,
        /// The role.
        role: Role,
    },
    /// A staff role was revoked (LG-1 admin changes; EV-9).
    RoleRevoked {
        /// The former holder.
        user_id: UserId,
        /// The organisation.
        org: Cvr,
        /// The role.
        role: Role,
    },
    /// A signed-in user was refused a console page or API endpoint (LG-1 access control).
    AccessRefused {
        /// Who asked.
        user_id: UserId,
        /// The HTTP method.
        method: String,
        /// The route pattern, not the concrete path (which may carry IDs of others).
        route: String,
        /// `LEVEL_TOO_LOW`, `ROLE_MISSING`, `WRONG_ORGANISATION`, `SELF_SERVICE`,
        /// `OWN_REQUEST`, `VERIFICATION_REQUIRED`, `NO_ACCESS_RULE` or `TOKEN_SCOPE`.
        reason: String,
    },
    /// A helpdesk operator verified a caller's identity before a credential action (HD-1,
    /// HD-3; EV-12). The operator is the event's actor; the document reference stays in the
    /// proofing record, since it may be a document number.
    HelpdeskIdentityVerified {
        /// The person verified.
        user_id: UserId,
        /// The identity-proofing record written.
        proofing_id: i64,
        /// How: `in_person`, `video_call`, `call_back`, …
        method: String,
        /// The document checked, if the method checks one.
        document_type: Option<String>,
        /// The level the verification supports under the policy.
        level: NsisLevel,
    },
    /// A helpdesk operator acted on an account, resting on a verification (HD-2 to HD-5;
    /// EV-12). Written beside the event of the change itself (code issued, unlock, …).
    HelpdeskActionTaken {
        /// The account acted on.
        user_id: UserId,
        /// `reset_code`, `activation_code`, `unlock`, `revoke_credential` or
        /// `require_password_change`.
        action: String,
        /// The verification the action rests on.
        proofing_id: i64,
        /// That verification's method.
        method: String,
        /// The operator's reason, as typed.
        reason: String,
        /// The account's identity level after the action, capped by the verification's.
        level_after: NsisLevel,
        /// For a reset of an active or locked account: the second operator's approval it used
        /// (HD-3). Absent for every other action.
        #[serde(skip_serializing_if = "Option::is_none")]
        approval_id: Option<i64>,
        /// That approval's approver, the second operator (HD-3).
        #[serde(skip_serializing_if = "Option::is_none")]
        approved_by: Option<UserId>,
    },
    /// A helpdesk operator asked to reset an active or locked account, which replaces its
    /// second factor; the reset waits for a second operator's approval (HD-3; ASVS 6.4.4;
    /// EV-12). The requester is the event's actor.
    HelpdeskApprovalRequested {
        /// The account to be reset.
        user_id: UserId,
        /// The request written.
        approval_id: i64,
        /// The requester's verification of the caller, which the request rests on.
        proofing_id: i64,
        /// That verification's method.
        method: String,
        /// That verification's level.
        level: NsisLevel,
        /// The requester's reason, as typed.
        reason: String,
    },
    /// A second helpdesk operator approved a reset request (HD-3; ASVS 6.4.4; EV-12). The
    /// approver is the event's actor; requester and approver are both named.
    HelpdeskResetApproved {
        /// The account to be reset.
        user_id: UserId,
        /// The request approved.
        approval_id: i64,
        /// The requester's verification it rests on.
        proofing_id: i64,
        /// The operator who verified the caller and asked for the reset.
        requested_by: UserId,
        /// The second operator.
        approved_by: UserId,
    },
    /// The next SAML signing key was generated and is published in the metadata beside the
    /// current one, not yet signing (MD-3; EV-10 key rollovers).
    KeyRolloverStarted {
        /// `signing`.
        purpose: String,
        /// SHA-256 of the next key's certificate (hex).
        fingerprint: String,
    },
    /// The next SAML signing key replaced the current one, which was kept in the data folder
    /// under a retired name (MD-3; EV-10).
    KeyRolloverCompleted {
        /// `signing`.
        purpose: String,
        /// SHA-256 of the certificate that signs from now on (hex).
        fingerprint: String,
        /// SHA-256 of the retired certificate (hex).
        retired_fingerprint: String,
    },
    /// A user who forgot the password set a new one after a WebAuthn ceremony with user
    /// verification (issue 5, item 3); every session of the account ended with it.
    PasswordRecovered {
        /// The account.
        user_id: UserId,
        /// The credential that vouched for it (hex).
        credential_id: String,
    },
    /// A notice about a change to the user's sign-in was sent to their address (HD-5).
    UserNotified {
        /// The account.
        user_id: UserId,
        /// What the notice reported (`password_changed`, `credential_added`, …).
        notice: String,
    },
    /// A notice could not be sent within a day and was given up (HD-5).
    UserNotificationFailed {
        /// The account.
        user_id: UserId,
        /// What the notice reported.
        notice: String,
        /// The last error.
        reason: String,
    },
    // Audit evidence (issue 7), later additions.
    /// The audit key was replaced by a new one (`portner audit key rotate`); the old
    /// certificate is kept as retired, so the checkpoints it signed stay verifiable (LG-5;
    /// EV-10 key management). The event is recorded by the new key's first checkpoint.
    AuditKeyRotated {
        /// SHA-256 of the retired certificate.
        retired_fingerprint: String,
        /// SHA-256 of the new certificate.
        new_fingerprint: String,
    },
    /// The security-relevant settings in force changed, or were recorded for the first time:
    /// written when `portner serve` starts with values that differ from the newest snapshot in
    /// the chain, so a restart with an unchanged configuration adds nothing (EV-7 "settings
    /// with change history"; LG-1 configuration changes). Never holds secrets.
    ConfigurationApplied {
        /// Every setting the control matrix cites, key to value as applied.
        settings: BTreeMap<String, String>,
        /// The keys whose value differs from the previous snapshot (every key for the first).
        changed: Vec<String>,
    },
    /// Pruning removed the configuration snapshot in force at the new anchor; this copy keeps
    /// its values, original record and time in the chain, so a later period can still say
    /// which values were in force at its start (EV-7 with LG-3). Written in the prune's
    /// transaction, after `AUDIT_PRUNED`.
    ConfigurationCarriedForward {
        /// The settings of the snapshot carried.
        settings: BTreeMap<String, String>,
        /// The keys that snapshot changed.
        changed: Vec<String>,
        /// Sequence number of the original `CONFIGURATION_APPLIED` record (now pruned).
        applied_seq: i64,
        /// When it was applied, epoch milliseconds.
        applied_at: i64,
    },
    // Single sign-on (issue 4), later additions.
    /// Refusals of untrusted SAML messages from one source address that were counted instead
    /// of audited one by one, because the source had used up its allowance for the minute
    /// (`audit_saml_refusals_per_minute`). The context's source is that address. Each was
    /// refused exactly as an audited one would have been.
    SamlRefusalsSuppressed {
        /// When the source's one-minute window began (RFC 3339, UTC).
        window_start: String,
        /// How many refusals in that window were not audited one by one.
        suppressed: u64,
        /// The same count by reason code (security-tests.md §0).
        reasons: BTreeMap<String, u64>,
    },
    // SCIM 2.0 provisioning (issue 5, item 5).
    /// A SCIM client's bearer token was created (LG-1 admin changes; EV-10 key management).
    /// The token itself is never recorded.
    ScimTokenCreated {
        /// The token's identifier.
        token_id: ScimTokenId,
        /// The organisation it may provision in.
        org: Cvr,
        /// The operator's name for the client.
        name: String,
        /// When it expires (RFC 3339).
        expires: String,
    },
    /// A SCIM client's bearer token was revoked (LG-1 admin changes; EV-10).
    ScimTokenRevoked {
        /// The token's identifier.
        token_id: ScimTokenId,
        /// Its organisation.
        org: Cvr,
    },
    /// A user's profile changed: display name, e-mail address or the provisioning client's
    /// external identifier (LG-1 admin changes; EV-9 per-person history). Only the names of
    /// the changed fields are recorded, not their values.
    UserProfileChanged {
        /// The user.
        user_id: UserId,
        /// `display_name`, `email`, `external_id`, in that order, those that changed.
        changed: Vec<String>,
    },
    /// A JSON API token was created for a staff user (issue 5 item 4; LG-1 admin changes;
    /// EV-10). The token itself is never recorded.
    ApiTokenCreated {
        /// The token's identifier.
        token_id: ApiTokenId,
        /// The user it acts as.
        user_id: UserId,
        /// Its name.
        name: String,
        /// `read` or `write`.
        scope: String,
        /// When it expires (RFC 3339).
        expires: String,
    },
    /// A JSON API token was revoked (LG-1; EV-10).
    ApiTokenRevoked {
        /// The token's identifier.
        token_id: ApiTokenId,
        /// The user it acted as.
        user_id: UserId,
    },
    /// A right was granted to a user within a scope (issue 5 item 4; LG-1 admin changes;
    /// EV-9). The user's rights are queued for MitID Erhverv when their organisation syncs.
    RightAssigned {
        /// The holder.
        user_id: UserId,
        /// The right's catalogue key.
        right: String,
        /// `cvr`, `pu` or `se`.
        scope_kind: String,
        /// The CVR, P-number or SE number.
        scope_value: String,
    },
    /// A right was withdrawn from a user (LG-1; EV-9).
    RightRevoked {
        /// The former holder.
        user_id: UserId,
        /// The right's catalogue key.
        right: String,
        /// `cvr`, `pu` or `se`.
        scope_kind: String,
        /// The CVR, P-number or SE number.
        scope_value: String,
    },
    /// A group was created (issue 5 item 5; LG-1 admin changes).
    GroupCreated {
        /// The group.
        group_id: GroupId,
        /// Its organisation.
        org: Cvr,
        /// Its name.
        name: String,
    },
    /// A group's name or external ID changed (LG-1).
    GroupChanged {
        /// The group.
        group_id: GroupId,
        /// Its organisation.
        org: Cvr,
        /// Its name after the change.
        name: String,
    },
    /// A group was deleted; its members were taken out of it first, each with its own event
    /// (LG-1).
    GroupDeleted {
        /// The former group.
        group_id: GroupId,
        /// Its organisation.
        org: Cvr,
        /// Its name.
        name: String,
    },
    /// A user was put in a group (LG-1; EV-9). Where the group scopes the organisation's MitID
    /// Erhverv sync, the user's identity is queued for creation or reactivation.
    GroupMemberAdded {
        /// The group.
        group_id: GroupId,
        /// The member.
        user_id: UserId,
    },
    /// A user was taken out of a group (LG-1; EV-9). Where the group scopes the sync, the
    /// user's identity is queued for suspension.
    GroupMemberRemoved {
        /// The group.
        group_id: GroupId,
        /// The former member.
        user_id: UserId,
    },
    /// A local right was added to the catalogue, for the organisation's own services (LG-1).
    RightDefined {
        /// The catalogue key.
        right: String,
        /// Its name.
        name: String,
    },
    /// A user was deleted with their credentials, sessions and rights (AU-8; EV-9, EV-11).
    UserDeleted {
        /// The former user.
        user_id: UserId,
        /// Their organisation.
        org: Cvr,
        /// Their username, to tie the record to MitID Erhverv's `subjectNameId`.
        username: Username,
    },
}

impl AuditEvent {
    /// The stable code of the event's kind, stored beside it for filtering and reports.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::KeyGenerated { .. } => "KEY_GENERATED",
            Self::OrganisationCreated { .. } => "ORGANISATION_CREATED",
            Self::OrganisationChanged { .. } => "ORGANISATION_CHANGED",
            Self::PolicyChanged { .. } => "POLICY_CHANGED",
            Self::UserCreated { .. } => "USER_CREATED",
            Self::UserStatusChanged { .. } => "USER_STATUS_CHANGED",
            Self::IdentityProofingRecorded { .. } => "IDENTITY_PROOFING_RECORDED",
            // SAML (issue 4).
            Self::ServiceProviderRegistered { .. } => "SERVICE_PROVIDER_REGISTERED",
            Self::ServiceProviderRemoved { .. } => "SERVICE_PROVIDER_REMOVED",
            // Sign-in (issue 3).
            Self::SignInSucceeded { .. } => "SIGN_IN_SUCCEEDED",
            Self::SignInFailed { .. } => "SIGN_IN_FAILED",
            Self::AccountLocked { .. } => "ACCOUNT_LOCKED",
            Self::AccountUnlocked { .. } => "ACCOUNT_UNLOCKED",
            Self::CredentialCounterRegressed { .. } => "CREDENTIAL_COUNTER_REGRESSED",
            Self::ActivationCodeIssued { .. } => "ACTIVATION_CODE_ISSUED",
            Self::AccountActivated { .. } => "ACCOUNT_ACTIVATED",
            Self::CredentialAdded { .. } => "CREDENTIAL_ADDED",
            Self::CredentialRenamed { .. } => "CREDENTIAL_RENAMED",
            Self::CredentialRemoved { .. } => "CREDENTIAL_REMOVED",
            Self::PasswordChanged { .. } => "PASSWORD_CHANGED",
            Self::SessionEnded { .. } => "SESSION_ENDED",
            // Audit evidence (issue 7).
            Self::CheckpointWritten { .. } => "CHECKPOINT_WRITTEN",
            Self::AuditPruned { .. } => "AUDIT_PRUNED",
            Self::EvidenceExported { .. } => "EVIDENCE_EXPORTED",
            // MitID Erhverv IdM sync (issue 6).
            Self::SyncActionDone { .. } => "SYNC_ACTION_DONE",
            Self::SyncActionRetried { .. } => "SYNC_ACTION_RETRIED",
            Self::SyncActionFailed { .. } => "SYNC_ACTION_FAILED",
            Self::SyncIdentityAdopted { .. } => "SYNC_IDENTITY_ADOPTED",
            Self::SyncDriftFound { .. } => "SYNC_DRIFT_FOUND",
            Self::MitIdErhvervCatalogueImported { .. } => "MITID_ERHVERV_CATALOGUE_IMPORTED",
            Self::SyncUnauthorized { .. } => "SYNC_UNAUTHORIZED",
            Self::SyncEnabled { .. } => "SYNC_ENABLED",
            Self::SyncActionRequeued { .. } => "SYNC_ACTION_REQUEUED",
            Self::SyncActionDismissed { .. } => "SYNC_ACTION_DISMISSED",
            // Single sign-on (issue 4).
            Self::SamlRequestAccepted { .. } => "SAML_REQUEST_ACCEPTED",
            Self::SamlRequestRefused { .. } => "SAML_REQUEST_REFUSED",
            Self::SamlResponseIssued { .. } => "SAML_RESPONSE_ISSUED",
            Self::SamlLogout { .. } => "SAML_LOGOUT",
            // Roles and the helpdesk (issue 5).
            Self::RoleGranted { .. } => "ROLE_GRANTED",
            Self::RoleRevoked { .. } => "ROLE_REVOKED",
            Self::AccessRefused { .. } => "ACCESS_REFUSED",
            Self::HelpdeskIdentityVerified { .. } => "HELPDESK_IDENTITY_VERIFIED",
            Self::HelpdeskActionTaken { .. } => "HELPDESK_ACTION_TAKEN",
            Self::HelpdeskApprovalRequested { .. } => "HELPDESK_APPROVAL_REQUESTED",
            Self::HelpdeskResetApproved { .. } => "HELPDESK_RESET_APPROVED",
            Self::KeyRolloverStarted { .. } => "KEY_ROLLOVER_STARTED",
            Self::KeyRolloverCompleted { .. } => "KEY_ROLLOVER_COMPLETED",
            Self::PasswordRecovered { .. } => "PASSWORD_RECOVERED",
            Self::UserNotified { .. } => "USER_NOTIFIED",
            Self::UserNotificationFailed { .. } => "USER_NOTIFICATION_FAILED",
            // Audit evidence (issue 7), later additions.
            Self::AuditKeyRotated { .. } => "AUDIT_KEY_ROTATED",
            Self::ConfigurationApplied { .. } => "CONFIGURATION_APPLIED",
            Self::ConfigurationCarriedForward { .. } => "CONFIGURATION_CARRIED_FORWARD",
            // Single sign-on (issue 4), later additions.
            Self::SamlRefusalsSuppressed { .. } => "SAML_REFUSALS_SUPPRESSED",
            // SCIM 2.0 provisioning (issue 5, item 5).
            Self::ScimTokenCreated { .. } => "SCIM_TOKEN_CREATED",
            Self::ScimTokenRevoked { .. } => "SCIM_TOKEN_REVOKED",
            Self::UserProfileChanged { .. } => "USER_PROFILE_CHANGED",
            Self::UserDeleted { .. } => "USER_DELETED",
            Self::ApiTokenCreated { .. } => "API_TOKEN_CREATED",
            Self::RightAssigned { .. } => "RIGHT_ASSIGNED",
            Self::RightRevoked { .. } => "RIGHT_REVOKED",
            Self::RightDefined { .. } => "RIGHT_DEFINED",
            Self::GroupCreated { .. } => "GROUP_CREATED",
            Self::GroupChanged { .. } => "GROUP_CHANGED",
            Self::GroupDeleted { .. } => "GROUP_DELETED",
            Self::GroupMemberAdded { .. } => "GROUP_MEMBER_ADDED",
            Self::GroupMemberRemoved { .. } => "GROUP_MEMBER_REMOVED",
            Self::ApiTokenRevoked { .. } => "API_TOKEN_REVOKED",
        }
    }
}

/// Who caused an event.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Actor {
    /// An operator at the `portner` command line, with the operating-system account name if
    /// known (the CLI runs with direct database access, so this is the accountable person).
    Cli {
        /// `$USER` of the process, if set.
        os_user: Option<String>,
    },
    /// A SCIM client, by the token it presented (issue 5, item 5).
    ScimClient(ScimTokenId),
    /// Portner itself (start-up, scheduled jobs).
    System,
    /// A signed-in user acting for themselves or as operator.
    User(UserId),
}

impl fmt::Display for Actor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli {
                os_user: Some(name),
            } => write!(formatter, "cli:{name}"),
            Self::Cli { os_user: None } => formatter.write_str("cli"),
            Self::ScimClient(token_id) => write!(formatter, "scim:{token_id}"),
            Self::System => formatter.write_str("system"),
            Self::User(user_id) => write!(formatter, "user:{user_id}"),
        }
    }
}

/// What an event concerns.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Subject {
    /// The installation as a whole.
    Installation,
    /// An organisation.
    Organisation(Cvr),
    /// A user.
    User(UserId),
    /// A service provider, by entityID.
    ServiceProvider(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Installation => formatter.write_str("installation"),
            Self::Organisation(cvr) => write!(formatter, "org:{cvr}"),
            Self::User(user_id) => write!(formatter, "user:{user_id}"),
            Self::ServiceProvider(entity_id) => write!(formatter, "sp:{entity_id}"),
        }
    }
}

/// The circumstances of an event: who, from where, and in which request or session.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuditContext {
    /// Who caused it.
    pub actor: Actor,
    /// The client address, for events caused over the network.
    pub source: Option<IpAddr>,
    /// A correlation ID tying the event to a request or session (never the session cookie).
    pub correlation_id: Option<String>,
}

impl AuditContext {
    /// The context of a command-line operation by the current operating-system user.
    pub fn cli() -> Self {
        let os_user = std::env::var("USER").ok().filter(|name| !name.is_empty());
        Self {
            actor: Actor::Cli { os_user },
            source: None,
            correlation_id: None,
        }
    }

    /// The context of something Portner does by itself.
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            source: None,
            correlation_id: None,
        }
    }
}
