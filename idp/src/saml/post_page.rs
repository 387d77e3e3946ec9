//! The HTTP-POST binding page that carries a message to an SP (SAML Bindings §3.5.4; RS-13):
//! a Response to the ACS, or a LogoutRequest or LogoutResponse to a logout endpoint.
//!
//! The form's `action` is an endpoint taken from metadata for a verified request or a session
//! participant, never anything from the request itself. Every value is HTML-escaped;
//! RelayState comes back byte for byte (A5). No inline script: a small same-origin script
//! submits the form, so the page works under a CSP without `unsafe-inline`, and a visible
//! button submits it where scripts are off.
//! The page is in Danish and English, since it shows only for a moment or without script.

/// The script that submits the form; served at [`AUTOSUBMIT_SCRIPT_PATH`].
pub const AUTOSUBMIT_SCRIPT: &str =
    "document.addEventListener('DOMContentLoaded',function(){document.forms[0].submit();});\n";
/// Where the auto-submit script is served.
pub const AUTOSUBMIT_SCRIPT_PATH: &str = "/saml/autosubmit.js";

/// Which message the form carries.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FormField {
    /// `SAMLResponse` (a Response or a LogoutResponse).
    Response,
    /// `SAMLRequest` (a LogoutRequest to another SP).
    Request,
}

/// Renders the auto-submitting page. `message_base64` is the base64 of the signed XML.
pub fn render(
    action: &str,
    field: FormField,
    message_base64: &str,
    relay_state: Option<&str>,
) -> String {
    let name = match field {
        FormField::Response => "SAMLResponse",
        FormField::Request => "SAMLRequest",
    };
    let relay = relay_state
        .map(|state| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                escape(state)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"da\"><head><meta charset=\"utf-8\">\
         <title>Sender dig videre / Continuing</title>\
         <script src=\"{AUTOSUBMIT_SCRIPT_PATH}\" defer></script></head><body>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"{name}\" value=\"{message}\">{relay}\
         <p>Du sendes videre til tjenesten. <span lang=\"en\">You are being sent on to the \
         service.</span></p>\
         <button type=\"submit\">Fortsæt <span lang=\"en\">/ Continue</span></button>\
         </form></body></html>\n",
        action = escape(action),
        message = escape(message_base64),
    )
}

/// The `Content-Security-Policy` for the page: only Portner's own script, and the form may go
/// only to the ACS's origin.
pub fn content_security_policy(action: &str) -> String {
    let origin = url_origin(action).unwrap_or_else(|| "'none'".to_owned());
    format!("default-src 'none'; script-src 'self'; form-action {origin}; frame-ancestors 'none'")
}

fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let safe = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    (safe && !authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// HTML escaping for text and double-quoted attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_relay_state_and_action_are_escaped_and_no_script_is_inline() {
        let relay_state = "\"><script>alert(1)</script>\r\n";

        let page = render(
            "https://sp.test.example.dk/acs?a=1&b=2",
            FormField::Response,
            "PHI+",
            Some(relay_state),
        );

        assert!(page.contains("action=\"https://sp.test.example.dk/acs?a=1&amp;b=2\""));
        assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\r\n\""));
        assert!(!page.contains("<script>"), "inline script in the page");
        assert!(page.contains("<button type=\"submit\">"));
        assert!(page.contains("name=\"SAMLResponse\" value=\"PHI+\""));
    }

    #[test]
    fn the_policy_allows_posting_only_to_the_acs_origin() {
        let policy = content_security_policy("https://sp.test.example.dk:8443/acs?x=1");

        assert!(policy.contains("form-action https://sp.test.example.dk:8443;"));
        assert!(policy.contains("script-src 'self'"));
        assert!(content_security_policy("javascript:alert(1)").contains("form-action 'none'"));
    }
}
