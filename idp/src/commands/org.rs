//! `portner org add|list`.

use portner_audit::AuditContext;
use portner_shared::domain::{Cvr, NewOrganisation, Organisation, UserIdSuffix};

use super::{CommandError, Environment};
use crate::cli::{OrgAddArgs, OrgCommand};

pub(super) async fn run(
    command: OrgCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        OrgCommand::Add(args) => add(args, environment).await,
        OrgCommand::List(args) => {
            let mut tx = environment.store.read().await?;
            let organisations = tx.organisations().await?;
            tx.rollback().await?;
            if args.json {
                super::print_json(&organisations)
            } else {
                print_table(&organisations);
                Ok(())
            }
        }
    }
}

async fn add(args: OrgAddArgs, environment: &Environment) -> Result<(), CommandError> {
    let cvr: Cvr = args.cvr.parse()?;
    let suffix: UserIdSuffix = args.suffix.parse()?;
    let mut new = NewOrganisation::new(cvr, &args.name, suffix)?;
    new.se_numbers = args
        .se_numbers
        .iter()
        .map(|se| se.parse())
        .collect::<Result<_, _>>()?;
    new.p_units = args
        .p_units
        .iter()
        .map(|p| p.parse())
        .collect::<Result<_, _>>()?;

    let organisation = crate::directory::create_organisation(
        &environment.store,
        environment.clock.as_ref(),
        &AuditContext::cli(),
        &new,
    )
    .await?;
    out!(
        "organisation {} ({}) added",
        organisation.cvr,
        organisation.name
    );
    Ok(())
}

fn print_table(organisations: &[Organisation]) {
    out!("{:<10} {:<24} {:<32} NAME", "CVR", "SUFFIX", "SE / P-UNITS");
    for organisation in organisations {
        let units = format!(
            "{} SE, {} P",
            organisation.se_numbers.len(),
            organisation.p_units.len()
        );
        out!(
            "{:<10} {:<24} {:<32} {}",
            organisation.cvr,
            organisation.suffix,
            units,
            organisation.name
        );
    }
}
