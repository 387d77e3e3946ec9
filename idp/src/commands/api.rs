//! `portner api token create|list|revoke`: the bearer tokens JSON API clients use
//! (`/api/v1`, issue 5 item 4).
//!
//! A token acts as one staff user, with that user's roles in the access table, narrowed to
//! `GET` by the `read` scope. `create` prints it once; Portner keeps only its SHA-256.

use portner_audit::AuditContext;
use portner_shared::domain::{ApiScope, Username};

use super::{CommandError, Environment};
use crate::api::token::{self, MAX_DAYS};
use crate::cli::{
    ApiCommand, ApiTokenCommand, ApiTokenCreateArgs, ApiTokenListArgs, ApiTokenRevokeArgs,
};

/// Longest token name accepted, in characters.
const MAX_NAME_CHARS: usize = 64;

pub(super) async fn run(
    command: ApiCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        ApiCommand::Token(ApiTokenCommand::Create(args)) => create(args, environment).await,
        ApiCommand::Token(ApiTokenCommand::List(args)) => list(args, environment).await,
        ApiCommand::Token(ApiTokenCommand::Revoke(args)) => revoke(args, environment).await,
    }
}

fn token_name(text: &str) -> Result<String, CommandError> {
    let name = text.trim();
    let valid = (1..=MAX_NAME_CHARS).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(CommandError::Usage(format!(
            "--name must be 1-{MAX_NAME_CHARS} letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(name.to_owned())
}

async fn create(args: ApiTokenCreateArgs, environment: &Environment) -> Result<(), CommandError> {
    let user: Username = args.user.parse()?;
    let name = token_name(&args.name)?;
    let scope: ApiScope = args.scope.parse()?;
    if !(1..=MAX_DAYS).contains(&args.days) {
        return Err(CommandError::Usage(format!("--days must be 1-{MAX_DAYS}")));
    }

    let now = environment.clock.now();
    let context = AuditContext::cli();
    let store = &environment.store;
    let (stored, secret) =
        token::create(store, now, &context, &user, name, scope, args.days).await?;
    out!(
        "API token {} of {user} ({}, {}) expires {}",
        stored.name,
        scope.as_str(),
        stored.id,
        stored.expires_at.to_rfc3339()
    );
    out!("Give this token to the client now; it is not shown again:");
    out!("{}", secret.expose());
    Ok(())
}

async fn list(args: ApiTokenListArgs, environment: &Environment) -> Result<(), CommandError> {
    let username: Username = args.user.parse()?;
    let mut tx = environment.store.read().await?;
    let user = tx.user_by_username(&username).await?;
    let tokens = match &user {
        Some(user) => tx.api_tokens_of(user.id).await?,
        None => Vec::new(),
    };
    tx.rollback().await?;
    if user.is_none() {
        return Err(CommandError::Failed(format!("no user {username}")));
    }

    if args.json {
        return super::print_json(&tokens);
    }
    let now = environment.clock.now();
    out!(
        "{:<24} {:<6} {:<10} {:<26} ID",
        "NAME",
        "SCOPE",
        "STATE",
        "EXPIRES"
    );
    for token in &tokens {
        let state = super::token_state(token.revoked_at.is_some(), token.is_usable(now));
        let expires = token.expires_at.to_rfc3339();
        let scope = token.scope.as_str();
        out!(
            "{:<24} {scope:<6} {state:<10} {expires:<26} {}",
            token.name,
            token.id
        );
    }
    Ok(())
}

async fn revoke(args: ApiTokenRevokeArgs, environment: &Environment) -> Result<(), CommandError> {
    let user: Username = args.user.parse()?;
    let now = environment.clock.now();
    let context = AuditContext::cli();
    let revoked = token::revoke(&environment.store, now, &context, &user, &args.name).await?;
    if revoked {
        out!("API token {} of {user} is revoked", args.name);
    } else {
        out!(
            "API token {} of {user} was already revoked; nothing changed",
            args.name
        );
    }
    Ok(())
}
