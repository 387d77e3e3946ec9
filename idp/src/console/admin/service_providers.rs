//! Service providers in the administration console and the JSON API (issue 5 item 4): the
//! registry listed, an SP registered from metadata pasted into the form (or sent as JSON), and
//! one removed after its entityID is typed again. Every change goes through
//! [`crate::saml::registry`], as `portner sp add|remove` does, audited as
//! `SERVICE_PROVIDER_REGISTERED` / `SERVICE_PROVIDER_REMOVED` with the administrator as actor.
//!
//! The registry is one for the installation, so any administrator manages it. Fetching
//! metadata from a URL and accepting SHA-1 signatures stay on the command line: both are trust
//! decisions an operator makes with the files in front of them (MD-9, A12). Written down in
//! `docs/limitations.md`.

use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portner_shared::domain::ServiceProvider;
use portner_shared::store::StoreError;
use serde::{Deserialize, Serialize};

use super::{AdminError, context};
use crate::app::AppState;
use crate::console::access::{self, Operator};
use crate::console::page::{self, ConsoleText, Lang, Text};
use crate::saml::registry::{self, RegistryError, SpSettings};

/// Largest request a registration may send: metadata of up to 1 MiB as the parser allows,
/// percent-encoded in a form.
pub const MAX_REGISTRATION_BYTES: usize = 3 * 1024 * 1024;

/// An SP as the console and the API list it.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct SpView {
    /// The entityID.
    pub entity_id: String,
    /// The name shown.
    pub name: String,
    /// `own` or `nemlogin`.
    pub profile: String,
    /// `oiosaml3`, `legacy` or `none`.
    pub encryption: String,
    /// The lowest NSIS level it is served at.
    pub minimum_level: String,
    /// Whether the Response is signed as well as the Assertion.
    pub sign_response: bool,
    /// When it was registered (RFC 3339).
    pub registered_at: String,
}

fn view(sp: &ServiceProvider) -> SpView {
    let settings: SpSettings = serde_json::from_str(&sp.settings_json).unwrap_or_default();
    SpView {
        entity_id: sp.entity_id.clone(),
        name: sp.name.clone(),
        profile: sp.profile.as_str().to_owned(),
        encryption: settings.encryption.as_str().to_owned(),
        minimum_level: settings.minimum_level.as_str().to_owned(),
        sign_response: settings.sign_response,
        registered_at: sp.created_at.to_rfc3339(),
    }
}

/// Every registered SP, by entityID.
///
/// # Errors
///
/// The store failed.
pub async fn list(state: &AppState) -> Result<Vec<SpView>, StoreError> {
    let mut tx = state.store.read().await?;
    let providers = tx.service_providers().await?;
    tx.rollback().await?;
    Ok(providers.iter().map(view).collect())
}

/// A registration as entered.
#[derive(Clone, Copy, Debug)]
pub struct SpFields<'a> {
    /// The SP's metadata document.
    pub metadata: &'a str,
    /// The name shown; the entityID when empty.
    pub name: &'a str,
    /// `own` or `nemlogin`.
    pub profile: &'a str,
    /// `oiosaml3`, `legacy` or `none`.
    pub encryption: &'a str,
    /// `low`, `substantial` or `high`.
    pub minimum_level: &'a str,
    /// Sign the Response too.
    pub sign_response: bool,
}

/// Registers an SP from its metadata.
///
/// # Errors
///
/// [`AdminError::BadInput`] naming the field refused (`metadata`, `profile`, `encryption`,
/// `minimum_level`, `name`, or `settings` for a combination the profile forbids);
/// [`AdminError::Conflict`] (`SP_REGISTERED`) when the entityID is registered already.
pub async fn register(
    state: &AppState,
    operator: &Operator,
    fields: SpFields<'_>,
) -> Result<SpView, AdminError> {
    let profile = fields
        .profile
        .parse()
        .map_err(|_| AdminError::BadInput("profile"))?;
    let settings = SpSettings {
        encryption: fields
            .encryption
            .parse()
            .map_err(|_| AdminError::BadInput("encryption"))?,
        sign_response: fields.sign_response,
        allow_sha1: false,
        minimum_level: fields
            .minimum_level
            .parse()
            .map_err(|_| AdminError::BadInput("minimum_level"))?,
        released_attributes: Vec::new(),
    };
    let name = fields.name.trim();
    let name = if name.is_empty() {
        None
    } else {
        Some(
            portner_shared::domain::parse_display_name(name)
                .map_err(|_| AdminError::BadInput("name"))?,
        )
    };

    let clock = state.clock.as_ref();
    let context = context(operator);
    let metadata = fields.metadata.trim();
    let sp = registry::register(
        &state.store,
        clock,
        &context,
        metadata,
        profile,
        name.as_deref(),
        &settings,
    )
    .await
    .map_err(from_registry)?;
    Ok(view(&sp))
}

/// Removes an SP; `confirm` must repeat its entityID.
///
/// # Errors
///
/// [`AdminError::BadInput`] (`confirm`) when the confirmation differs, [`AdminError::NotFound`]
/// for an unknown entityID.
pub async fn remove(
    state: &AppState,
    operator: &Operator,
    entity_id: &str,
    confirm: &str,
) -> Result<(), AdminError> {
    if confirm.trim() != entity_id {
        return Err(AdminError::BadInput("confirm"));
    }
    let clock = state.clock.as_ref();
    registry::remove(&state.store, clock, &context(operator), entity_id)
        .await
        .map_err(from_registry)
}

fn from_registry(error: RegistryError) -> AdminError {
    match error {
        RegistryError::Metadata(_) => AdminError::BadInput("metadata"),
        RegistryError::Settings(_) => AdminError::BadInput("settings"),
        RegistryError::NotFound => AdminError::NotFound,
        RegistryError::Store(StoreError::Conflict { .. }) => AdminError::Conflict("SP_REGISTERED"),
        RegistryError::Store(error) => error.into(),
        RegistryError::Audit(error) => AdminError::Internal(error.into()),
    }
}

/// `GET /admin/service-providers`: the registry, the registration form and a removal form
/// per SP.
pub async fn page(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
) -> Response {
    let lang = operator.lang;
    let providers = match list(&state).await {
        Ok(providers) => providers,
        Err(error) => return access::internal(lang, &error.into()),
    };
    let (token, cookie) = match page::csrf(&headers) {
        Ok(found) => found,
        Err(error) => return access::internal(lang, &error),
    };
    let body = html! {
        p { a href="/admin" { (lang.console(Text::Administration)) } }
        (table_markup(lang, &token, &providers))
        h2 { (lang.console(Text::RegisterSp)) }
        (register_markup(lang, &token))
    };
    let frame = page::frame(
        lang,
        Text::ServiceProviders,
        "/admin/service-providers",
        body,
    );
    page::respond(StatusCode::OK, frame, cookie)
}

/// The registration form as posted.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    metadata: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    encryption: String,
    #[serde(default)]
    minimum_level: String,
    #[serde(default)]
    sign_response: Option<String>,
}

/// `POST /admin/service-providers`: registers the SP, then shows the registry.
pub async fn register_form(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RegisterForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        let fields = SpFields {
            metadata: &form.metadata,
            name: &form.name,
            profile: &form.profile,
            encryption: &form.encryption,
            minimum_level: &form.minimum_level,
            sign_response: form.sign_response.is_some(),
        };
        register(&state, &operator, fields).await.map(|_| ())
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    after(&state, &operator, &matched, result).await
}

/// The removal form as posted.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/service-providers/remove`: removes the SP, then shows the registry.
pub async fn remove_form(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RemoveForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        remove(&state, &operator, &form.entity_id, &form.confirm).await
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    after(&state, &operator, &matched, result).await
}

async fn after(
    state: &AppState,
    operator: &Operator,
    matched: &MatchedPath,
    result: Result<(), AdminError>,
) -> Response {
    match result {
        Ok(()) => Redirect::to("/admin/service-providers").into_response(),
        Err(error) => super::pages::fail(state, operator, &Method::POST, matched, error).await,
    }
}

fn table_markup(lang: Lang, token: &str, providers: &[SpView]) -> Markup {
    html! {
        @if providers.is_empty() {
            p id="no-sps" { (lang.console(Text::NoSps)) }
        } @else {
            table id="sps" {
                thead { tr {
                    th scope="col" { "entityID" }
                    th scope="col" { (lang.console(Text::Name)) }
                    th scope="col" { (lang.console(Text::SpProfile)) }
                    th scope="col" { (lang.console(Text::SpEncryption)) }
                    th scope="col" { (lang.console(Text::SpMinimumLevel)) }
                    th scope="col" { (lang.console(Text::Action)) }
                } }
                tbody {
                    @for (index, sp) in providers.iter().enumerate() {
                        tr {
                            td { code { (sp.entity_id) } }
                            td { (sp.name) }
                            td { (sp.profile) }
                            td { (sp.encryption) }
                            td { (sp.minimum_level) }
                            td { (remove_markup(lang, token, index, sp)) }
                        }
                    }
                }
            }
        }
    }
}

fn remove_markup(lang: Lang, token: &str, index: usize, sp: &SpView) -> Markup {
    let field = format!("confirm-sp-{index}");
    html! {
        form method="post" action="/admin/service-providers/remove" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="entity_id" value=(sp.entity_id);
            label for=(field) { (lang.console(Text::ConfirmEntityId)) }
            input id=(field) name="confirm" type="text" required autocomplete="off";
            button type="submit" { (lang.console(Text::RemoveSp)) }
        }
    }
}

fn register_markup(lang: Lang, token: &str) -> Markup {
    html! {
        form method="post" action="/admin/service-providers" {
            input type="hidden" name="csrf" value=(token);
            p {
                label for="sp-metadata" { (lang.console(Text::SpMetadata)) } br;
                textarea id="sp-metadata" name="metadata" rows="12" cols="80" required {}
            }
            p {
                label for="sp-name" { (lang.console(Text::Name)) } br;
                input id="sp-name" name="name" type="text" maxlength="200";
            }
            p {
                label for="sp-profile" { (lang.console(Text::SpProfile)) } br;
                select id="sp-profile" name="profile" {
                    option value="own" { "own" }
                    option value="nemlogin" { "nemlogin" }
                }
            }
            p {
                label for="sp-encryption" { (lang.console(Text::SpEncryption)) } br;
                select id="sp-encryption" name="encryption" {
                    option value="oiosaml3" { "oiosaml3 (AES-256-GCM, RSA-OAEP SHA-256)" }
                    option value="legacy" { "legacy (AES-128-GCM, rsa-oaep-mgf1p)" }
                    option value="none" { "none" }
                }
            }
            p {
                label for="sp-level" { (lang.console(Text::SpMinimumLevel)) } br;
                select id="sp-level" name="minimum_level" {
                    option value="substantial" { "substantial" }
                    option value="low" { "low" }
                }
            }
            p {
                input id="sp-sign-response" name="sign_response" type="checkbox" value="on";
                label for="sp-sign-response" { (lang.console(Text::SpSignResponse)) }
            }
            p { small { (lang.console(Text::RegisterSpHint)) } }
            button type="submit" { (lang.console(Text::RegisterSp)) }
        }
    }
}
