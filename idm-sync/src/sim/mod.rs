//! `mitid-erhverv-sim`: a SIMULATION of the MitID Erhverv IdM API as publicly observed
//! (mitid-erhverv-idm-api.md §9), not the real service. It is the development and demo peer
//! and what the sync tests run against.

pub mod certs;
pub mod faults;
pub mod server;
pub mod state;

pub use faults::{FaultKind, FaultRule, Trigger, production_like};
pub use server::{SimConfig, SimError, Simulator};
pub use state::{SimAuthenticator, SimEmployee, SimOrganisation, SimState};
