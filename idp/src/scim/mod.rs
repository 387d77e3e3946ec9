//! SCIM 2.0 provisioning at `/scim/v2` (RFC 7643 schema, RFC 7644 protocol; issue 5, item 5).
//!
//! An organisation's IdM or HR system creates, changes, disables and deletes that
//! organisation's users here, with a bearer token from `portner scim token create`. Every
//! change goes through [`crate::directory`], so it is written in one transaction with its
//! audit event and the MitID Erhverv sync actions, exactly as a change from the CLI would be.
//! This module owns the SCIM wire format: the resource representation, filters, PATCH and
//! errors. Groups hold users of the same organisation; one of them may scope the
//! organisation's MitID Erhverv sync (`docs/scim.md`, `docs/sync.md`).

pub mod token;

mod auth;
mod discovery;
mod error;
mod filter;
mod group_resource;
mod group_service;
mod groups;
mod list;
mod patch;
mod resource;
mod schema;
mod service;
mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::app::AppState;
use error::ScimError;

/// The `/scim/v2` routes. Anything under `/scim/v2` that is not a route answers with a SCIM
/// 404 body (RFC 7644 §3.12), and bodies are read up to 64 KiB.
pub fn router() -> Router<AppState> {
    let routes = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{name}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema_by_id))
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", axum::routing::post(users::search))
        // RFC 7644 §3.4.3: a search at the root covers every resource type.
        .route("/.search", axum::routing::post(users::search_all))
        .route(
            "/Users/{id}",
            get(users::read)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", axum::routing::post(groups::search))
        .route(
            "/Groups/{id}",
            get(groups::read)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(schema::MAX_BODY_BYTES));
    Router::new().nest("/scim/v2", routes)
}

async fn not_found() -> ScimError {
    ScimError::not_found()
}

/// RFC 7644 §3.12 names no code for this; 405 with a SCIM body keeps clients on one format.
async fn method_not_allowed() -> ScimError {
    ScimError::method_not_allowed()
}
