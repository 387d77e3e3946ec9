//! SCIM error responses (RFC 7644 §3.12): every refusal of a SCIM request, whatever its cause,
//! leaves here as a JSON body with the Error schema, the HTTP status as a string, and where the
//! RFC defines one a `scimType` code. The detail is a fixed sentence chosen by Portner, never
//! the text of an internal error, which is logged instead (STYLE.md 4.1).

use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::directory::DirectoryError;
use portner_shared::store::StoreError;

/// The Error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The media type of every SCIM body (RFC 7644 §3.1).
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// The `scimType` codes of RFC 7644 §3.12, Table 9, that Portner answers with. Alphabetical.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ScimType {
    /// The filter syntax was invalid or named an unsupported attribute or operator.
    InvalidFilter,
    /// The PATCH path was invalid or named an attribute that cannot be reached.
    InvalidPath,
    /// The body was not valid JSON, or not of the expected schema.
    InvalidSyntax,
    /// A value was missing, of the wrong type or refused by the domain's rules.
    InvalidValue,
    /// The change would modify an attribute that may not be modified.
    Mutability,
    /// A PATCH path with a filter matched nothing.
    NoTarget,
    /// A value that must be unique (the userName) is taken.
    Uniqueness,
}

impl ScimType {
    const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::InvalidPath => "invalidPath",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidValue => "invalidValue",
            Self::Mutability => "mutability",
            Self::NoTarget => "noTarget",
            Self::Uniqueness => "uniqueness",
        }
    }
}

/// A refused SCIM request: the status, the optional `scimType`, and a fixed detail.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<ScimType>,
    detail: &'static str,
}

impl ScimError {
    /// A 400 Bad Request with a `scimType`.
    pub const fn bad_request(scim_type: ScimType, detail: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail,
        }
    }

    /// 401: the same for a missing, malformed, unknown, expired or revoked token.
    pub const fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            scim_type: None,
            detail: "Authorization failure: a valid bearer token is required.",
        }
    }

    /// 404: no such resource in the client's organisation (RFC 7644 §3.12).
    pub const fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            scim_type: None,
            detail: "Resource not found.",
        }
    }

    /// 409 uniqueness: the userName is taken (RFC 7644 §3.3).
    pub const fn conflict() -> Self {
        Self {
            status: StatusCode::CONFLICT,
            scim_type: Some(ScimType::Uniqueness),
            detail: "The userName is already taken.",
        }
    }

    /// 409 uniqueness: the organisation has a group of that name (RFC 7644 §3.3).
    pub const fn group_name_taken() -> Self {
        Self {
            status: StatusCode::CONFLICT,
            scim_type: Some(ScimType::Uniqueness),
            detail: "The organisation has a group of that displayName already.",
        }
    }

    /// 409: the group scopes the organisation's MitID Erhverv sync, and deleting it would
    /// suspend every member's identity. RFC 7644 §3.12 names 409 for a request that conflicts
    /// with the resource's state; no `scimType` fits.
    pub const fn group_scopes_sync() -> Self {
        Self {
            status: StatusCode::CONFLICT,
            scim_type: None,
            detail: "The group scopes the MitID Erhverv sync; change the sync settings first.",
        }
    }

    /// 409: something still refers to what the request would remove.
    pub const fn in_use() -> Self {
        Self {
            status: StatusCode::CONFLICT,
            scim_type: None,
            detail: "The resource is still in use.",
        }
    }

    /// 412: the `If-Match` version is not the resource's current one (RFC 7644 §3.14).
    pub const fn precondition_failed() -> Self {
        Self {
            status: StatusCode::PRECONDITION_FAILED,
            scim_type: None,
            detail: "The resource has changed since the version given in If-Match.",
        }
    }

    /// 413: the body is larger than Portner reads (RFC 7644 §3.12).
    pub const fn too_large() -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            scim_type: None,
            detail: "The request body is too large.",
        }
    }

    /// 405: the resource does not take this method.
    pub const fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            scim_type: None,
            detail: "The method is not supported here.",
        }
    }

    /// 500, with nothing of the cause; the caller has logged it.
    pub const fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            scim_type: None,
            detail: "The request could not be completed.",
        }
    }

    /// The HTTP status.
    #[cfg(test)]
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The `scimType`, if the error has one.
    #[cfg(test)]
    pub const fn scim_type(&self) -> Option<ScimType> {
        self.scim_type
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(scim_type), Some(object)) = (self.scim_type, body.as_object_mut()) {
            object.insert("scimType".into(), scim_type.as_str().into());
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_MEDIA_TYPE),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a refused bearer token is answered with a challenge.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        response
    }
}

impl From<StoreError> for ScimError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => Self::conflict(),
            other => {
                tracing::error!(error = %other, "SCIM request failed in the store");
                Self::internal()
            }
        }
    }
}

impl From<DirectoryError> for ScimError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::NotFound(_) => Self::not_found(),
            DirectoryError::InUse(_) => Self::in_use(),
            DirectoryError::Store(store) => store.into(),
            DirectoryError::Audit(audit) => {
                tracing::error!(error = %audit, "SCIM change not made: audit trail failed");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn errors_carry_the_error_schema_status_string_and_scim_type() {
        let response = ScimError::bad_request(ScimType::InvalidFilter, "The filter is invalid.")
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], SCIM_MEDIA_TYPE);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["status"], "400");
        assert_eq!(body["scimType"], "invalidFilter");
    }

    #[tokio::test]
    async fn unauthorized_has_no_scim_type_and_a_bearer_challenge() {
        let response = ScimError::unauthorized().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(body.get("scimType").is_none());
        assert_eq!(body["status"], "401");
    }
}
