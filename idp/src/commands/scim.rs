//! `portner scim token create|list|revoke`: the bearer tokens SCIM clients provision with.
//!
//! `create` prints the token once; Portner keeps only its SHA-256 ([`crate::scim::token`]).

use portner_audit::AuditContext;
use portner_shared::domain::{Cvr, scim_client_name};

use super::{CommandError, Environment};
use crate::cli::{
    ScimCommand, ScimTokenCommand, ScimTokenCreateArgs, ScimTokenListArgs, ScimTokenRevokeArgs,
};
use crate::scim::token::{self, TokenError};

/// The longest a token may live: two years, so that a forgotten integration's credential
/// does not outlive its review cycle by much.
const MAX_DAYS: u16 = 730;

pub(super) async fn run(
    command: ScimCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        ScimCommand::Token(ScimTokenCommand::Create(args)) => create(args, environment).await,
        ScimCommand::Token(ScimTokenCommand::List(args)) => list(args, environment).await,
        ScimCommand::Token(ScimTokenCommand::Revoke(args)) => revoke(args, environment).await,
    }
}

async fn create(args: ScimTokenCreateArgs, environment: &Environment) -> Result<(), CommandError> {
    let org: Cvr = args.org.parse()?;
    let name = scim_client_name(&args.name)?;
    if !(1..=MAX_DAYS).contains(&args.days) {
        return Err(CommandError::Usage(format!("--days must be 1-{MAX_DAYS}")));
    }

    let now = environment.clock.now();
    let context = AuditContext::cli();
    let (stored, secret) =
        token::create(&environment.store, now, &context, &org, name, args.days).await?;
    out!(
        "SCIM token {} for {} ({}) expires {}",
        stored.name,
        stored.org,
        stored.id,
        stored.expires_at.to_rfc3339()
    );
    out!("Give this token to the client now; it is not shown again:");
    out!("{}", secret.expose());
    Ok(())
}

async fn list(args: ScimTokenListArgs, environment: &Environment) -> Result<(), CommandError> {
    let org: Option<Cvr> = args.org.as_deref().map(str::parse).transpose()?;
    let mut tx = environment.store.read().await?;
    let tokens = tx.scim_tokens(org.as_ref()).await?;
    tx.rollback().await?;

    if args.json {
        return super::print_json(&tokens);
    }
    let now = environment.clock.now();
    out!(
        "{:<10} {:<24} {:<10} {:<26} ID",
        "ORG",
        "NAME",
        "STATE",
        "EXPIRES"
    );
    for token in &tokens {
        let state = super::token_state(token.revoked_at.is_some(), token.is_usable(now));
        out!(
            "{:<10} {:<24} {:<10} {:<26} {}",
            token.org,
            token.name,
            state,
            token.expires_at.to_rfc3339(),
            token.id
        );
    }
    Ok(())
}

async fn revoke(args: ScimTokenRevokeArgs, environment: &Environment) -> Result<(), CommandError> {
    let org: Cvr = args.org.parse()?;
    let now = environment.clock.now();
    let revoked = token::revoke(
        &environment.store,
        now,
        &AuditContext::cli(),
        &org,
        &args.name,
    )
    .await?;
    if revoked {
        out!("SCIM token {} of {org} is revoked", args.name);
    } else {
        out!(
            "SCIM token {} of {org} was already revoked; nothing changed",
            args.name
        );
    }
    Ok(())
}

impl From<TokenError> for CommandError {
    fn from(error: TokenError) -> Self {
        Self::Failed(error.to_string())
    }
}
