//! Self-service on a signed-in session: sign out and end sessions (ASVS 7.4.1, 7.4.5).
//!
//! Known gap (issue 3 item 6): changing the password, adding, renaming and removing
//! credentials are not offered yet; the store methods they need exist
//! (`rename_webauthn_credential`, `delete_webauthn_credential`, `password_history`).

use super::session::{self, ActiveSession};
use super::{Origin, SignIn, SignInError};

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
    let origin = Origin {
        correlation_id: Some(active.factors.correlation_id.clone()),
        ..origin.clone()
    };
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
    let origin = Origin {
        correlation_id: Some(active.factors.correlation_id.clone()),
        ..origin.clone()
    };
    let user_id = active.session.user_id;
    let mut tx = signin.store.begin().await?;
    let sessions = tx.sessions_of(user_id).await?;
    for ended in &sessions {
        tx.delete_session(&ended.id_hash).await?;
        session::audit_end(&mut tx, now, &origin, user_id, "ended_by_user").await?;
    }
    tx.commit().await?;
    Ok(sessions.len())
}
