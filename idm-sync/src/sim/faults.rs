//! Seeded fault injection for the simulator (mitid-erhverv-idm-api.md §9.5).
//!
//! A rule matches on method and a path substring (optionally a UUID inside the path) and fires
//! on the n-th matching call, on every k-th, or with a probability drawn from the simulator's
//! seeded generator, so a failing test replays exactly.

use serde::{Deserialize, Serialize};

/// What a firing rule does to the call.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// 503 with body `ServiceUnavailable`.
    Unavailable,
    /// 500 with body "See log for exception details".
    ServerError,
    /// Close the connection without a response.
    Reset,
    /// Wait this long, then answer normally.
    Latency {
        /// Delay in milliseconds.
        millis: u64,
    },
    /// Never answer (the connection is held until the client gives up).
    Timeout,
    /// 429 with `Retry-After` (not observed in reality).
    RateLimit {
        /// Seconds announced in `Retry-After`.
        retry_after: u64,
    },
    /// Expire all tokens now; the call itself then fails with 401.
    TokenExpiry,
    /// 200 with a truncated, non-JSON body.
    BadJson,
    /// E3 returns an empty list.
    ShrinkSearch,
}

/// When a rule fires.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum Trigger {
    /// On the n-th matching call (1-based), once.
    Nth {
        /// Which call.
        n: u64,
    },
    /// On every k-th matching call.
    Every {
        /// The period.
        k: u64,
    },
    /// With this probability in per mille, from the seeded generator.
    Probability {
        /// 0..=1000.
        per_mille: u32,
    },
}

/// One fault rule.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct FaultRule {
    /// HTTP method to match, or `None` for any.
    pub method: Option<String>,
    /// A substring the path must contain, or `None` for any. Control routes never match.
    pub path_contains: Option<String>,
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub fault: FaultKind,
    /// Matching calls seen so far.
    #[serde(default)]
    pub seen: u64,
}

impl FaultRule {
    /// A rule for any method on paths containing `path` (or all paths for `""`).
    pub fn new(path: &str, trigger: Trigger, fault: FaultKind) -> Self {
        Self {
            method: None,
            path_contains: (!path.is_empty()).then(|| path.to_owned()),
            trigger,
            fault,
            seen: 0,
        }
    }

    /// Restricts the rule to one method.
    #[must_use]
    pub fn with_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method));
        let path_ok = self
            .path_contains
            .as_deref()
            .is_none_or(|part| path.contains(part));
        method_ok && path_ok
    }
}

/// The preset `production-like` (§9.5): 503 on 2 % of C1/E2, reset on 5 % of E3, 500 on 1 % of
/// R3/R4.
pub fn production_like() -> Vec<FaultRule> {
    let probability = |per_mille| Trigger::Probability { per_mille };
    vec![
        FaultRule::new("/authenticators", probability(20), FaultKind::Unavailable)
            .with_method("GET"),
        FaultRule::new(
            "/identity/employee/",
            probability(20),
            FaultKind::Unavailable,
        )
        .with_method("GET"),
        FaultRule::new("/employee/search", probability(50), FaultKind::Reset),
        FaultRule::new("/rights/identity/", probability(10), FaultKind::ServerError)
            .with_method("POST"),
        FaultRule::new("/rights/identity/", probability(10), FaultKind::ServerError)
            .with_method("DELETE"),
    ]
}

/// A small deterministic generator (SplitMix64): the simulator needs reproducible draws, not
/// cryptographic ones, and owning the algorithm keeps a seed's meaning stable across crate
/// upgrades.
#[derive(Clone, Debug)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator for `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.next_u64() % 1000 < u64::from(per_mille)
    }
}

/// Finds the first rule that fires for this call, advancing every matching rule's counter.
pub fn pick(
    rules: &mut [FaultRule],
    rng: &mut SeededRng,
    method: &str,
    path: &str,
) -> Option<FaultKind> {
    let mut fired = None;
    for rule in rules.iter_mut().filter(|rule| rule.matches(method, path)) {
        rule.seen += 1;
        let fires = match rule.trigger {
            Trigger::Nth { n } => rule.seen == n,
            Trigger::Every { k } => k > 0 && rule.seen % k == 0,
            Trigger::Probability { per_mille } => rng.chance(per_mille),
        };
        if fires && fired.is_none() {
            fired = Some(rule.fault.clone());
        }
    }
    fired
}
