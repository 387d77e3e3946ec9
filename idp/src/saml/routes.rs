//! The SAML HTTP endpoints. So far: the IdP metadata and the auto-submit script of the POST
//! binding page.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::idp_metadata::{self, MetadataProfile};
use super::post_page;
use crate::app::AppState;

/// The SAML routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml/metadata", get(metadata))
        .route(post_page::AUTOSUBMIT_SCRIPT_PATH, get(autosubmit_script))
}

#[derive(Debug, Deserialize)]
struct MetadataQuery {
    profile: Option<String>,
}

/// `GET /saml/metadata[?profile=mitid-erhverv]`.
async fn metadata(State(state): State<AppState>, Query(query): Query<MetadataQuery>) -> Response {
    let profile = match query.profile.as_deref() {
        None => MetadataProfile::Full,
        Some("mitid-erhverv") => MetadataProfile::MitIdErhverv,
        Some(_) => return (StatusCode::BAD_REQUEST, "unknown metadata profile").into_response(),
    };
    match idp_metadata::render(&state.identity, profile) {
        Ok(document) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            document,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "metadata rendering failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /saml/autosubmit.js`: the one script the POST binding page loads.
async fn autosubmit_script() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=3600"),
    ];
    (headers, post_page::AUTOSUBMIT_SCRIPT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{app, test_support};

    #[tokio::test]
    async fn metadata_is_served_as_saml_metadata_in_both_variants() {
        let (store, _folder) = test_support::store().await;
        let router = app(test_support::state(store));

        let full = test_support::get(router.clone(), "/saml/metadata").await;
        let upload =
            test_support::get(router.clone(), "/saml/metadata?profile=mitid-erhverv").await;
        let unknown = test_support::get(router, "/saml/metadata?profile=other").await;

        assert_eq!(
            (full.0, full.1.as_str()),
            (StatusCode::OK, "application/samlmetadata+xml")
        );
        assert!(full.2.contains("entityID=\"https://saml.test.example.dk\""));
        assert!(full.2.contains("https://login.test.example.dk/saml/sso"));
        assert_eq!(full.2.matches("md:SingleSignOnService").count(), 2);
        assert_eq!(upload.2.matches("md:SingleSignOnService").count(), 1);
        assert_eq!(unknown.0, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn the_autosubmit_script_is_served_as_javascript() {
        let (store, _folder) = test_support::store().await;

        let (status, content_type, body) =
            test_support::get(app(test_support::state(store)), "/saml/autosubmit.js").await;

        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/javascript"));
        assert!(body.contains("submit()"));
    }
}
