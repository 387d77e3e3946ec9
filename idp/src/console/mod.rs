//! The staff consoles (issues 5 and 7): the role table and its guard ([`access`]), the shared
//! page frame ([`page`]), the helpdesk ([`helpdesk`]), the administration console
//! ([`admin`]) and the auditor console ([`audit`]).
//!
//! Every console route is registered here and passes through [`access::guard`]; a new page
//! adds its route to [`router`] and its line to [`access::RULES`], and gets the same session,
//! level and role checks.

pub mod access;
pub mod admin;
pub mod audit;
pub mod helpdesk;
pub mod page;

#[cfg(test)]
pub(crate) mod test_support;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::api;
use crate::app::AppState;

/// Largest console form accepted; the longest field is a 200-character reason.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The console routes, each behind the access guard.
pub fn router(state: AppState) -> Router<AppState> {
    use helpdesk::pages;
    Router::new()
        .route("/helpdesk", get(pages::search))
        .route("/helpdesk/users/{id}", get(pages::user))
        .route("/helpdesk/users/{id}/verify", post(pages::verify))
        .route("/helpdesk/users/{id}/code", post(pages::code))
        .route("/helpdesk/users/{id}/approve", post(pages::approve))
        .route("/helpdesk/users/{id}/unlock", post(pages::unlock))
        .route(
            "/helpdesk/users/{id}/revoke-credential",
            post(pages::revoke_credential),
        )
        .route(
            "/helpdesk/users/{id}/require-password-change",
            post(pages::require_password_change),
        )
        .route("/admin", get(admin::pages::overview))
        .route("/admin/users", post(admin::pages::create_user))
        .route("/admin/users/{id}", get(admin::pages::user))
        .route("/admin/users/{id}/status", post(admin::pages::status))
        .route("/admin/users/{id}/roles", post(admin::pages::role))
        .route("/admin/users/{id}/profile", post(admin::pages::profile))
        .route("/admin/users/{id}/delete", post(admin::pages::delete))
        .route("/admin/users/{id}/rights", post(admin::pages::right))
        .route("/admin/rights", post(admin::pages::define_right))
        .route(
            "/admin/organisations/{cvr}",
            post(admin::organisations::update),
        )
        .route("/admin/policies", post(admin::policies::update))
        .route(
            "/admin/service-providers",
            get(admin::service_providers::page)
                .post(admin::service_providers::register_form)
                .layer(DefaultBodyLimit::max(
                    admin::service_providers::MAX_REGISTRATION_BYTES,
                )),
        )
        .route(
            "/admin/service-providers/remove",
            post(admin::service_providers::remove_form),
        )
        .route("/admin/sync", get(admin::sync::overview))
        .route("/admin/sync/actions/{id}/retry", post(admin::sync::retry))
        .route(
            "/admin/sync/actions/{id}/dismiss",
            post(admin::sync::dismiss),
        )
        .route("/api/v1/users", get(api::list_users).post(api::create_user))
        .route("/api/v1/users/{id}", get(api::get_user))
        .route("/api/v1/users/{id}/status", post(api::change_status))
        .route("/api/v1/users/{id}/roles", post(api::change_role))
        .route("/api/v1/users/{id}/profile", post(api::change_profile))
        .route("/api/v1/users/{id}/delete", post(api::delete_user))
        .route(
            "/api/v1/users/{id}/rights",
            get(api::user_rights).post(api::change_right),
        )
        .route(
            "/api/v1/rights",
            get(api::catalogue).post(api::define_right),
        )
        .route("/api/v1/organisations", get(api::list_organisations))
        .route(
            "/api/v1/service-providers",
            get(api::list_service_providers)
                .post(api::register_service_provider)
                .layer(DefaultBodyLimit::max(
                    admin::service_providers::MAX_REGISTRATION_BYTES,
                )),
        )
        .route(
            "/api/v1/service-providers/remove",
            post(api::remove_service_provider),
        )
        .route(
            "/api/v1/organisations/{cvr}",
            post(api::change_organisation),
        )
        .route(
            "/api/v1/policies",
            get(api::policies).post(api::change_policies),
        )
        .route("/audit", get(audit::pages::overview))
        .route("/audit/export", post(audit::pages::export))
        .route_layer(middleware::from_fn_with_state(state, access::guard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
