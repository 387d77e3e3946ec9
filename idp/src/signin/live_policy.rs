//! The sign-in policy in force: the configuration file's values with the overrides an
//! administrator set at run time (`policy_overrides`; issue 5 item 4), shared by every part
//! of sign-in through [`super::SignIn::settings`].
//!
//! Each replica holds the policy in memory and reads the overrides again on a timer
//! (`portner serve`, every [`REFRESH_EVERY`]) and right after a change it makes itself, so a
//! change made on one replica reaches the others within that interval. An override that is
//! not an editable key or is out of its range (a row edited outside Portner) is ignored with
//! a warning, leaving the file's value in force.

use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use portner_shared::config::SignInSettings;
use portner_shared::store::{Store, StoreError};

/// How often `portner serve` reads the overrides again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(15);

/// The policy in force, and the file's values it started from.
#[derive(Debug)]
pub struct LivePolicy {
    file: SignInSettings,
    current: RwLock<SignInSettings>,
    /// The shortest password, shared with the password checker, which runs off the lock.
    min_length: std::sync::Arc<AtomicUsize>,
}

impl LivePolicy {
    /// The file's values, in force until the first [`Self::apply`].
    pub fn new(file: SignInSettings, min_length: std::sync::Arc<AtomicUsize>) -> Self {
        Self {
            file,
            current: RwLock::new(file),
            min_length,
        }
    }

    /// The settings in force.
    pub fn current(&self) -> SignInSettings {
        *self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The configuration file's values.
    pub const fn file(&self) -> SignInSettings {
        self.file
    }

    /// Puts `overrides` over the file's values and makes the result the policy in force.
    pub fn apply(&self, overrides: &[(String, i64)]) -> SignInSettings {
        let settings = overlay(self.file, overrides);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = settings;
        let min_length = usize::try_from(settings.password_min_length).unwrap_or(usize::MAX);
        self.min_length.store(min_length, Ordering::Relaxed);
        settings
    }

    /// Reads the overrides from the store and applies them.
    ///
    /// # Errors
    ///
    /// The store failed; the policy in force stays as it was.
    pub async fn refresh(&self, store: &Store) -> Result<SignInSettings, StoreError> {
        Ok(self.apply(&read_overrides(store).await?))
    }
}

/// `file` with `overrides` put over it; an override that is not an editable key or is out of
/// its range is ignored with a warning.
pub fn overlay(file: SignInSettings, overrides: &[(String, i64)]) -> SignInSettings {
    let mut settings = file;
    for (key, value) in overrides {
        let applied = u32::try_from(*value)
            .ok()
            .and_then(|value| settings.with_policy(key, value));
        match applied {
            Some(changed) => settings = changed,
            None => tracing::warn!(%key, value, "ignored a policy override out of range"),
        }
    }
    settings
}

/// The administrators' overrides in the store.
///
/// # Errors
///
/// The store failed.
pub async fn read_overrides(store: &Store) -> Result<Vec<(String, i64)>, StoreError> {
    let mut tx = store.read().await?;
    let overrides = tx.policy_overrides().await?;
    tx.rollback().await?;
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_over_the_file_and_bad_ones_are_ignored() {
        let min_length = std::sync::Arc::new(AtomicUsize::new(12));
        let policy = LivePolicy::new(SignInSettings::default(), min_length.clone());
        let applied = policy.apply(&[
            ("password_min_length".into(), 16),
            ("lockout_threshold".into(), 1),
            ("password_argon2_memory_kib".into(), 8192),
            ("session_idle_minutes".into(), -5),
        ]);
        assert_eq!(applied.password_min_length, 16);
        assert_eq!(
            applied.lockout_threshold, 5,
            "out of range: the file's value stays"
        );
        assert_eq!(applied.password_argon2_memory_kib, 19456, "not editable");
        assert_eq!(applied.session_idle_minutes, 60);
        assert_eq!(policy.current(), applied);
        assert_eq!(min_length.load(Ordering::Relaxed), 16);
        assert_eq!(policy.apply(&[]), SignInSettings::default());
    }
}
