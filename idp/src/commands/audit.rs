//! `portner audit verify`.

use portner_audit::ChainVerdict;

use super::{CommandError, Environment};
use crate::cli::AuditCommand;

pub(super) async fn run(
    command: AuditCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        AuditCommand::Verify => match portner_audit::verify(&environment.store).await? {
            ChainVerdict::Intact { count } => {
                out!("audit chain OK: {count} records");
                Ok(())
            }
            ChainVerdict::Broken { seq, problem } => {
                out!("audit chain BROKEN at record {seq}: {problem}");
                Err(CommandError::Failed(format!(
                    "audit chain broken at record {seq}"
                )))
            }
        },
    }
}
