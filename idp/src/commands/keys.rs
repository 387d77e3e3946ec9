//! `portner keys status|rotate`: the SAML signing-key rollover (MD-3, MD-4).
//!
//! The files are handled by [`crate::datadir::rollover`]; this module tells the operator what
//! to do next and records each step in the audit trail. A running server reads its keys at
//! start, so every step is followed by a restart of each replica (with PostgreSQL, replicas
//! share one data folder's keys through the deployment, see `docs/saml.md`).

use portner_audit::{AuditContext, AuditEvent, Subject};

use super::{CommandError, Environment};
use crate::cli::{KeysCommand, KeysRotateArgs};
use crate::datadir::rollover;

pub(super) async fn run(
    command: KeysCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        KeysCommand::Status => {
            status(environment);
            Ok(())
        }
        KeysCommand::Rotate(args) => rotate(&args, environment).await,
    }
}

fn status(environment: &Environment) {
    let data = &environment.data;
    out!("signing (current): {}", data.signing.fingerprint());
    match &data.next_signing {
        Some(next) => out!(
            "signing (next, published, not signing): {}\n\
             promote it with `portner keys rotate --promote` once every SP holds the metadata",
            next.fingerprint()
        ),
        None => out!("signing (next): none; `portner keys rotate` starts a rollover"),
    }
    out!("encryption: {}", data.encryption.fingerprint());
    out!("audit: {}", data.audit.fingerprint());
}

async fn rotate(args: &KeysRotateArgs, environment: &Environment) -> Result<(), CommandError> {
    let root = &environment.data.root;
    let now = environment.clock.now();
    let event = if args.promote {
        let promotion = rollover::promote(root, now)?;
        out!("the next signing key now signs: {}", promotion.fingerprint);
        match &promotion.retired_stem {
            Some(stem) => out!(
                "the retired key is kept as {}.key / .crt ({})",
                stem.display(),
                promotion.retired_fingerprint
            ),
            None => out!("finished an interrupted promotion"),
        }
        out!("restart every replica, then upload the new metadata to MitID Erhverv (MD-4)");
        AuditEvent::KeyRolloverCompleted {
            purpose: "signing".to_owned(),
            fingerprint: promotion.fingerprint,
            retired_fingerprint: promotion.retired_fingerprint,
        }
    } else {
        let next = rollover::start(root, "Portner signing key")?;
        out!("next signing key generated: {}", next.fingerprint());
        out!(
            "restart every replica; /saml/metadata then publishes it beside the current key. \
             Give the new metadata to every SP and upload ?profile=mitid-erhverv to MitID \
             Erhverv, then run `portner keys rotate --promote`"
        );
        AuditEvent::KeyRolloverStarted {
            purpose: "signing".to_owned(),
            fingerprint: next.fingerprint(),
        }
    };

    let mut tx = environment.store.begin().await?;
    let context = AuditContext::cli();
    portner_audit::append(&mut tx, now, &context, &Subject::Installation, &event).await?;
    tx.commit().await?;
    Ok(())
}
