//! `mitid-erhverv-sim`: serves a SIMULATION of the MitID Erhverv IdM API as publicly observed
//! (mitid-erhverv-idm-api.md §9) over HTTPS with client certificates. Not the real service.
//!
//! It generates a test CA, a server certificate and one client certificate per `--org`, writes
//! them to `--cert-dir` and prints where they are.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use portner_idm_sync::api::CatalogueRole;
use portner_idm_sync::sim::{SimConfig, SimOrganisation, Simulator, production_like};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    about = "SIMULATION of the MitID Erhverv IdM API (observed behaviour, not the real service)"
)]
struct Options {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Seed for fault injection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder for the generated CA, server and client certificates.
    #[arg(long, default_value = "sim-certs")]
    cert_dir: PathBuf,
    /// Organisation CVR to simulate (repeatable; test CVRs start with 9).
    #[arg(long = "org", default_value = "91234567")]
    orgs: Vec<String>,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: i64,
    /// Install the `production-like` fault preset (§9.5).
    #[arg(long)]
    production_like: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let options = Options::parse();
    let organisations = options
        .orgs
        .iter()
        .map(|cvr| demo_organisation(cvr))
        .collect();
    let config = SimConfig {
        listen: options.listen,
        seed: options.seed,
        token_lifetime_s: options.token_lifetime,
        plain_http: false,
        cert_folder: Some(options.cert_dir.clone()),
        organisations,
        call_log: true,
    };
    let simulator = match Simulator::start(config).await {
        Ok(simulator) => simulator,
        Err(error) => {
            eprintln!("error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if options.production_like {
        simulator.set_faults(production_like());
    }
    println!("SIMULATION of the MitID Erhverv IdM API (observed behaviour, not the real service)");
    println!("listening on {}", simulator.base_url());
    println!("certificates in {}", options.cert_dir.display());
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}

/// A demo organisation with two SE numbers, one P-unit and a small role catalogue.
fn demo_organisation(cvr: &str) -> SimOrganisation {
    let role = |uuid: &str, name: &str| CatalogueRole {
        uuid: uuid.to_owned(),
        name: Some(name.to_owned()),
        description: None,
        is_basic_package: Some(false),
    };
    SimOrganisation {
        cvr: cvr.to_owned(),
        se_numbers: vec!["91111111".to_owned(), "92222222".to_owned()],
        p_units: vec![9_000_000_001],
        catalogue: vec![
            role("6f1c9a52-0000-4000-8000-000000000001", "Digital Post: read"),
            role(
                "6f1c9a52-0000-4000-8000-000000000002",
                "Virk: administrator",
            ),
        ],
    }
}
