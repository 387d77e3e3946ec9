//! `portner user add|list|show|disable|activation-code|grant|revoke`.

use portner_audit::AuditContext;
use portner_shared::domain::{Cpr, Cvr, Email, NewUser, Rid, Role, UserStatus, Username};

use super::{CommandError, Environment};
use crate::cli::{
    ActivationCodeArgs, RoleArgs, UserAddArgs, UserCommand, UserListArgs, UserShowArgs,
};

pub(super) async fn run(
    command: UserCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        UserCommand::Add(args) => add(args, environment).await,
        UserCommand::List(args) => list(args, environment).await,
        UserCommand::Show(args) => show(args, environment).await,
        UserCommand::ActivationCode(args) => activation_code(args, environment).await,
        UserCommand::Grant(args) => grant(args, environment).await,
        UserCommand::Revoke(args) => revoke(args, environment).await,
        UserCommand::Import(args) => super::user_import::run(args, environment).await,
        UserCommand::Disable(args) => {
            let username: Username = args.username.parse()?;
            let user = crate::directory::set_user_status(
                &environment.store,
                environment.clock.as_ref(),
                &AuditContext::cli(),
                &username,
                UserStatus::Disabled,
            )
            .await?;
            out!(
                "user {} is disabled and signed out everywhere",
                user.username
            );
            Ok(())
        }
    }
}

async fn add(args: UserAddArgs, environment: &Environment) -> Result<(), CommandError> {
    let org: Cvr = args.org.parse()?;
    let username: Username = args.username.parse()?;
    let email: Email = args.email.parse()?;
    let cpr: Option<Cpr> = args.cpr.as_deref().map(str::parse).transpose()?;
    let rid: Option<Rid> = args.rid.as_deref().map(str::parse).transpose()?;
    let new = NewUser::new(org, username, &args.name, email, cpr)?.with_rid(rid);

    let user = crate::directory::create_user(
        &environment.store,
        environment.clock.as_ref(),
        &AuditContext::cli(),
        &new,
    )
    .await?;
    out!(
        "user {} created ({}), pending activation",
        user.username,
        user.id
    );
    Ok(())
}

async fn list(args: UserListArgs, environment: &Environment) -> Result<(), CommandError> {
    let org: Option<Cvr> = args.org.as_deref().map(str::parse).transpose()?;
    let mut tx = environment.store.read().await?;
    let users = tx.users(org.as_ref()).await?;
    tx.rollback().await?;

    if args.json {
        return super::print_json(&users);
    }
    out!(
        "{:<24} {:<10} {:<20} {:<12} NAME",
        "USERNAME",
        "ORG",
        "STATUS",
        "LEVEL"
    );
    for user in &users {
        out!(
            "{:<24} {:<10} {:<20} {:<12} {}",
            user.username,
            user.org,
            user.status,
            user.identity_level,
            user.display_name
        );
    }
    Ok(())
}

async fn show(args: UserShowArgs, environment: &Environment) -> Result<(), CommandError> {
    let username: Username = args.username.parse()?;
    let mut tx = environment.store.read().await?;
    let user = tx.user_by_username(&username).await?;
    tx.rollback().await?;
    let user = user.ok_or_else(|| CommandError::Failed(format!("no user named {username}")))?;

    if args.json {
        return super::print_json(&user);
    }
    out!("username        {}", user.username);
    out!("id              {}", user.id);
    out!("organisation    {}", user.org);
    out!("name            {}", user.display_name);
    out!("e-mail          {}", user.email);
    out!(
        "CPR             {}",
        if user.has_cpr {
            "on file (encrypted)"
        } else {
            "none"
        }
    );
    out!("status          {}", user.status);
    out!("identity level  {}", user.identity_level);
    out!("created         {}", user.created_at.to_rfc3339());
    Ok(())
}

async fn activation_code(
    args: ActivationCodeArgs,
    environment: &Environment,
) -> Result<(), CommandError> {
    let username: Username = args.username.parse()?;
    let proofing = match (args.verified_by, args.reference, args.level) {
        (Some(method), Some(reference), Some(level)) => {
            let reference = reference.trim().to_owned();
            if reference.is_empty() || reference.chars().count() > 200 {
                return Err(CommandError::Failed(
                    "invalid argument: reference: must be 1-200 characters".to_owned(),
                ));
            }
            Some(crate::signin::activation::Proofing {
                method: method.parse()?,
                reference,
                level: level.parse()?,
            })
        }
        _ => None,
    };
    let issued = crate::signin::activation::issue_code(
        &environment.store,
        environment.clock.as_ref(),
        &AuditContext::cli(),
        &username,
        proofing.as_ref(),
        environment.config.signin.activation_code_hours,
    )
    .await
    .map_err(|error| CommandError::Failed(error.to_string()))?;

    out!("activation code for {username}: {}", issued.code);
    out!("link: {}/activate", environment.config.public_url);
    out!("expires: {}", issued.record.expires_at.to_rfc3339());
    if proofing.is_none() {
        out!(
            "note: no identity proofing was given (--verified-by, --reference, --level), \
             so this account can reach at most NSIS Low"
        );
    } else {
        out!("identity level after activation: {}", issued.record.level);
    }
    Ok(())
}

async fn grant(args: RoleArgs, environment: &Environment) -> Result<(), CommandError> {
    let username: Username = args.username.parse()?;
    let role: Role = args.role.parse()?;
    let org: Option<Cvr> = args.org.as_deref().map(str::parse).transpose()?;
    let (assignment, new) = crate::directory::grant_role(
        &environment.store,
        environment.clock.as_ref(),
        &AuditContext::cli(),
        &username,
        role,
        org.as_ref(),
    )
    .await?;
    if new {
        out!("user {username} is now {role} of {}", assignment.org);
    } else {
        out!("user {username} already is {role} of {}", assignment.org);
    }
    Ok(())
}

async fn revoke(args: RoleArgs, environment: &Environment) -> Result<(), CommandError> {
    let username: Username = args.username.parse()?;
    let role: Role = args.role.parse()?;
    let org: Option<Cvr> = args.org.as_deref().map(str::parse).transpose()?;
    let held = crate::directory::revoke_role(
        &environment.store,
        environment.clock.as_ref(),
        &AuditContext::cli(),
        &username,
        role,
        org.as_ref(),
    )
    .await?;
    if held {
        out!("user {username} is no longer {role}");
    } else {
        out!("user {username} did not hold {role} there; nothing changed");
    }
    Ok(())
}
