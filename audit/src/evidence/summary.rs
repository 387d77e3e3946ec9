//! Tallies of a period's events by day, category and detail, for the CSV summaries, the
//! control matrix and the report's charts.
//!
//! Events are sorted into categories by their kind code. The sign-in, helpdesk, credential
//! and sync events are defined by other issues that have not landed yet, so the rules below
//! match kind codes by the words they will contain (`SIGN_IN`, `LOCK`, `HELPDESK`, …) rather
//! than by a fixed list; an event kind that matches no rule is counted under "other" and still
//! appears in `events-by-kind.csv`. When those issues land, their kinds should be checked
//! against [`Category::of`] (its tests list the intended mapping).
//!
//! Memory is bounded by days × kinds, never by the number of events.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::AuditRecord;

/// What an event is evidence of, for summaries and charts.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Category {
    /// Administration: keys, organisations, service providers, policies.
    Admin,
    /// The audit trail's own housekeeping: checkpoints, pruning, exports.
    Audit,
    /// Credential lifecycle: passwords, WebAuthn credentials, activation codes.
    Credential,
    /// Helpdesk actions: identity verification, resets, unlocks.
    Helpdesk,
    /// User lifecycle: creation, status changes.
    Lifecycle,
    /// Account lockouts.
    Lockout,
    /// Anything else.
    Other,
    /// Per-message SAML events.
    Saml,
    /// Successful sign-ins.
    SignIn,
    /// Failed sign-ins and rejected factors.
    SignInFailure,
    /// MitID Erhverv synchronisation actions.
    Sync,
}

impl Category {
    /// Every category, in display order.
    pub const ALL: [Self; 11] = [
        Self::SignIn,
        Self::SignInFailure,
        Self::Lockout,
        Self::Credential,
        Self::Helpdesk,
        Self::Lifecycle,
        Self::Admin,
        Self::Sync,
        Self::Saml,
        Self::Audit,
        Self::Other,
    ];

    /// The category of an event kind code.
    pub fn of(kind: &str) -> Self {
        let has = |word: &str| kind.contains(word);
        if matches!(
            kind,
            "CHECKPOINT_WRITTEN" | "AUDIT_PRUNED" | "EVIDENCE_EXPORTED" | "AUDIT_KEY_ROTATED"
        ) {
            Self::Audit
        } else if kind.starts_with(crate::retention::SAML_KIND_PREFIX) {
            Self::Saml
        } else if has("UNLOCK") {
            Self::Helpdesk
        } else if has("LOCKED") || has("LOCKOUT") {
            Self::Lockout
        } else if (has("SIGN_IN") || has("LOGIN") || has("FACTOR")) && has("FAIL")
            || has("REJECTED")
        {
            Self::SignInFailure
        } else if has("SIGN_IN") || has("LOGIN") {
            Self::SignIn
        } else if has("HELPDESK") || has("PROOFING") || has("UNLOCK") {
            Self::Helpdesk
        } else if has("SYNC") || has("MITID_ERHVERV") || has("OUTBOX") {
            Self::Sync
        } else if has("PASSWORD") || has("CREDENTIAL") || has("AUTHENTICATOR") || has("CODE") {
            Self::Credential
        } else if kind.starts_with("USER_") {
            Self::Lifecycle
        } else if has("KEY")
            || has("ORGANISATION")
            || has("SERVICE_PROVIDER")
            || has("POLICY")
            || has("CONFIG")
            || has("RIGHT")
            || has("ROLE")
            || has("GROUP")
        {
            Self::Admin
        } else {
            Self::Other
        }
    }

    /// A stable lowercase name for CSV files.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Audit => "audit",
            Self::Credential => "credential",
            Self::Helpdesk => "helpdesk",
            Self::Lifecycle => "lifecycle",
            Self::Lockout => "lockout",
            Self::Other => "other",
            Self::Saml => "saml",
            Self::SignIn => "sign_in",
            Self::SignInFailure => "sign_in_failure",
            Self::Sync => "sync",
        }
    }

    /// Danish and English label for the report.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Admin => "Administration / Administration",
            Self::Audit => "Revisionsspor / Audit trail",
            Self::Credential => "Loginmidler / Credentials",
            Self::Helpdesk => "Helpdesk / Helpdesk",
            Self::Lifecycle => "Brugerlivscyklus / User lifecycle",
            Self::Lockout => "Spærringer / Lockouts",
            Self::Other => "Øvrige / Other",
            Self::Saml => "SAML-beskeder / SAML messages",
            Self::SignIn => "Log-ind / Sign-ins",
            Self::SignInFailure => "Fejlede log-ind / Failed sign-ins",
            Self::Sync => "MitID Erhverv-synkronisering / Sync",
        }
    }
}

/// One tally key: the day (`YYYY-MM-DD`, UTC), the category, the kind, and a detail (the NSIS
/// level for sign-ins, the method for helpdesk actions, empty otherwise).
pub type TallyKey = (String, Category, String, String);

/// Counts of a period's events.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Count per day, category, kind and detail.
    pub by_key: BTreeMap<TallyKey, u64>,
    /// Count per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// All events counted.
    pub total: u64,
    /// The day of the last record counted, as a day number and as text.
    current_day: Option<(i64, String)>,
}

const MILLIS_PER_DAY: i64 = 86_400_000;

impl Tally {
    /// Counts one record.
    pub fn add(&mut self, record: &AuditRecord) {
        // Records arrive in time order, so the day's text is recomputed only when it changes.
        let day_number = record.occurred_at.div_euclid(MILLIS_PER_DAY);
        if self
            .current_day
            .as_ref()
            .is_none_or(|(number, _)| *number != day_number)
        {
            self.current_day = Some((day_number, crate::evidence::day_of(record.occurred_at)));
        }
        let day = self
            .current_day
            .as_ref()
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        let category = Category::of(&record.kind);
        let detail = detail_of(category, &record.data);
        *self
            .by_key
            .entry((day, category, record.kind.clone(), detail))
            .or_insert(0) += 1;
        match self.by_kind.get_mut(&record.kind) {
            Some(count) => *count += 1,
            None => {
                self.by_kind.insert(record.kind.clone(), 1);
            }
        }
        self.total += 1;
    }

    /// Events of `category`.
    pub fn count(&self, category: Category) -> u64 {
        self.by_key
            .iter()
            .filter(|((_, found, _, _), _)| *found == category)
            .map(|(_, count)| count)
            .sum()
    }

    /// Events whose kind contains any of `words`.
    pub fn count_kinds(&self, words: &[&str]) -> u64 {
        self.by_kind
            .iter()
            .filter(|(kind, _)| words.iter().any(|word| kind.contains(word)))
            .map(|(_, count)| count)
            .sum()
    }

    /// Per day and detail, the events of `category`.
    pub fn per_day(&self, category: Category) -> BTreeMap<(String, String), u64> {
        let mut per_day = BTreeMap::new();
        for ((day, found, _, detail), count) in &self.by_key {
            if *found == category {
                *per_day.entry((day.clone(), detail.clone())).or_insert(0) += count;
            }
        }
        per_day
    }
}

/// The level of a sign-in or the method of a helpdesk action, from the event's fields.
///
/// Parses only the two fields it needs, skipping the rest of the event without building it.
fn detail_of(category: Category, data: &str) -> String {
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow)]
        fields: Option<Fields<'a>>,
    }
    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        level: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }

    if !matches!(category, Category::SignIn | Category::Helpdesk) {
        return String::new();
    }
    let fields = serde_json::from_str::<Data<'_>>(data)
        .ok()
        .and_then(|parsed| parsed.fields);
    let value = fields.and_then(|fields| match category {
        Category::SignIn => fields.level,
        _ => fields.method,
    });
    value
        .as_deref()
        .unwrap_or("unknown")
        .chars()
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_this_and_coming_issues_land_in_the_intended_category() {
        assert_eq!(Category::of("USER_CREATED"), Category::Lifecycle);
        assert_eq!(Category::of("KEY_GENERATED"), Category::Admin);
        assert_eq!(Category::of("AUDIT_KEY_ROTATED"), Category::Audit);
        assert_eq!(
            Category::of("IDENTITY_PROOFING_RECORDED"),
            Category::Helpdesk
        );
        assert_eq!(Category::of("CHECKPOINT_WRITTEN"), Category::Audit);
        assert_eq!(Category::of("SIGN_IN_SUCCEEDED"), Category::SignIn);
        assert_eq!(Category::of("SIGN_IN_FAILED"), Category::SignInFailure);
        assert_eq!(Category::of("ACCOUNT_LOCKED"), Category::Lockout);
        assert_eq!(Category::of("USER_UNLOCKED"), Category::Helpdesk);
        assert_eq!(Category::of("HELPDESK_RESET_ISSUED"), Category::Helpdesk);
        assert_eq!(Category::of("PASSWORD_CHANGED"), Category::Credential);
        assert_eq!(Category::of("SYNC_ACTION_FAILED"), Category::Sync);
        assert_eq!(Category::of("SAML_RESPONSE_SENT"), Category::Saml);
        assert_eq!(Category::of("SOMETHING_NEW"), Category::Other);
        assert_eq!(Category::of("ROLE_GRANTED"), Category::Admin);
        assert_eq!(Category::of("GROUP_MEMBER_ADDED"), Category::Admin);
        assert_eq!(
            Category::of("HELPDESK_IDENTITY_VERIFIED"),
            Category::Helpdesk
        );
        assert_eq!(Category::of("HELPDESK_ACTION_TAKEN"), Category::Helpdesk);
        // HD-3: the second approver's steps belong to the helpdesk report (EV-12).
        for kind in ["HELPDESK_APPROVAL_REQUESTED", "HELPDESK_RESET_APPROVED"] {
            assert_eq!(Category::of(kind), Category::Helpdesk, "{kind}");
        }
    }
}
