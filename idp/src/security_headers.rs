//! Security headers set on every response, in one place (STYLE.md 3.14).
//!
//! The policy is the strictest that the current routes allow: nothing may be framed, sniffed,
//! or loaded from elsewhere. Pages added later relax `Content-Security-Policy` per route where
//! they need styles or the WebAuthn script, never globally.

use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The header layers, outermost first.
pub fn layers() -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    let headers: [(HeaderName, &'static str); 5] = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    headers
        .into_iter()
        .map(|(name, value)| {
            SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
        })
        .collect()
}
