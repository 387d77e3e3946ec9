//! Portner's MitID Erhverv IdM sync: the API wire types and client, the outbox worker, the
//! reconciler, and the `mitid-erhverv-sim` simulator they are tested against
//! (mitid-erhverv-idm-api.md).

pub mod api;
pub mod catalogue;
pub mod client;
pub mod desired;
pub mod enqueue;
pub mod reconcile;
pub mod sim;
pub mod worker;
