//! NSIS assurance levels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// An NSIS assurance level (NSIS 2.0.2a; eIDAS 2015/1502 annex).
///
/// The order is the order of assurance, so `min` of several levels is the level they reach
/// together: DESIGN.md computes a session's level as the minimum of the account's
/// identity-proofing level, each authenticator's level and each factor's freshness.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NsisLevel {
    /// No NSIS assurance, e.g. a password validated only against a directory (PW-2).
    None,
    /// NSIS Lav.
    Low,
    /// NSIS Betydelig; the level Portner is built to reach.
    Substantial,
    /// NSIS Høj.
    High,
}

impl NsisLevel {
    /// The lowercase name used in the store, the CLI and configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Substantial => "substantial",
            Self::High => "high",
        }
    }

    /// The capitalised name OIOSAML 3 puts in the `nsis/loa` attribute (AT-2).
    pub const fn oiosaml_name(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Low => "Low",
            Self::Substantial => "Substantial",
            Self::High => "High",
        }
    }
}

impl fmt::Display for NsisLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

impl FromStr for NsisLevel {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "low" => Ok(Self::Low),
            "substantial" => Ok(Self::Substantial),
            "high" => Ok(Self::High),
            _ => Err(ParseError::new(
                "level",
                "must be none, low, substantial or high",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_by_assurance_so_min_gives_the_joint_level() {
        let joint = [NsisLevel::High, NsisLevel::Low, NsisLevel::Substantial]
            .into_iter()
            .min();

        assert_eq!(joint, Some(NsisLevel::Low));
        assert!(NsisLevel::None < NsisLevel::Low);
    }

    #[test]
    fn level_names_round_trip_and_unknown_names_are_refused() {
        for level in [
            NsisLevel::None,
            NsisLevel::Low,
            NsisLevel::Substantial,
            NsisLevel::High,
        ] {
            assert_eq!(level.as_str().parse::<NsisLevel>(), Ok(level));
        }
        assert!("medium".parse::<NsisLevel>().is_err());
    }
}
