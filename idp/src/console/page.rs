//! The consoles' page frame, texts, language choice and CSRF tokens.
//!
//! Consoles share the sign-in pages' CSRF scheme (the `portner-csrf` cookie and its SHA-256
//! in every form, ASVS 3.5) and language cookie, so one cookie serves both. Console pages load
//! no script at all; their CSP says so.

use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use portner_shared::crypto::constant_time_eq;
use portner_shared::domain::User;

pub use crate::signin::html::Lang;
use crate::signin::pages::{CSRF_COOKIE, LANG_COOKIE, cookie_value, csrf_token};

/// Console pages run no script and may not be framed (STYLE.md 3.14).
const CONSOLE_CSP: &str =
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The page language: `?lang=` first, then the saved choice, then `Accept-Language`.
pub fn lang(headers: &HeaderMap, query: Option<&str>) -> Lang {
    let chosen = query.and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "lang")
            .map(|(_, value)| value.into_owned())
    });
    let saved = cookie_value(headers, LANG_COOKIE);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    Lang::pick(chosen.as_deref().or(saved.as_deref()), accept)
}

/// The CSRF token for the page's forms, and the cookie to set when the browser has none.
///
/// # Errors
///
/// The random source failed.
pub fn csrf(headers: &HeaderMap) -> Result<(String, Option<String>), crate::signin::SignInError> {
    if let Some(existing) = csrf_cookie(headers) {
        return Ok((csrf_token(&existing), None));
    }
    let value = crate::signin::random_hex::<32>()?;
    let cookie = format!("{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax");
    Ok((csrf_token(&value), Some(cookie)))
}

/// Whether a submitted form's token matches the browser's CSRF cookie (constant time).
pub fn csrf_valid(headers: &HeaderMap, token: &str) -> bool {
    csrf_cookie(headers)
        .is_some_and(|cookie| constant_time_eq(csrf_token(&cookie).as_bytes(), token.as_bytes()))
}

fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, CSRF_COOKIE).filter(|value| value.len() == 64)
}

/// A console page: CSP, no caching (pages show personal data and one-time codes), cookies.
pub fn respond(status: StatusCode, markup: Markup, cookie: Option<String>) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = cookie.and_then(|cookie| HeaderValue::from_str(&cookie).ok()) {
        headers.append(header::SET_COOKIE, value);
    }
    response
}

/// A page holding one message, e.g. a refusal.
pub fn message(status: StatusCode, lang: Lang, text: Text) -> Response {
    let body = html! {
        p role="alert" { (lang.console(text)) }
        @if matches!(text, Text::LevelTooLow) {
            p { a href="/login" { (lang.console(Text::SignInAgain)) } }
        }
    };
    respond(status, frame(lang, Text::Console, "/helpdesk", body), None)
}

/// Longest user search text accepted, in characters (consoles and `/api/v1`).
pub const MAX_SEARCH_CHARS: usize = 100;

/// The trimmed search text of `?q=`, or `None` when it is too long or holds control
/// characters (then the caller answers 400).
pub fn search_text(query: Option<&str>) -> Option<&str> {
    let text = query.map(str::trim).unwrap_or_default();
    let acceptable =
        text.chars().count() <= MAX_SEARCH_CHARS && !text.chars().any(char::is_control);
    acceptable.then_some(text)
}

/// The user search form of a console page: `GET action?q=`.
pub fn search_form(lang: Lang, action: &str, text: &str) -> Markup {
    html! {
        form method="get" action=(action) role="search" {
            label for="q" { (lang.console(Text::SearchHint)) }
            " "
            input id="q" name="q" type="search" maxlength="100" value=(text);
            " "
            button type="submit" { (lang.console(Text::Search)) }
        }
    }
}

/// Users found by a search, each linked to `{link_base}/{id}`, with a notice when the store's
/// limit cut the list; `detailed` adds the organisation and the assurance level.
pub fn user_table(lang: Lang, link_base: &str, found: &[User], detailed: bool) -> Markup {
    let limit = usize::try_from(portner_shared::store::SEARCH_LIMIT).unwrap_or(usize::MAX);
    if found.is_empty() {
        return html! { p { (lang.console(Text::NoUsers)) } };
    }
    html! {
        @if found.len() >= limit {
            p role="status" { (lang.console(Text::TooMany)) }
        }
        table id="users" {
            thead { tr {
                th scope="col" { (lang.console(Text::Username)) }
                th scope="col" { (lang.console(Text::Name)) }
                th scope="col" { (lang.console(Text::Email)) }
                @if detailed { th scope="col" { (lang.console(Text::Organisation)) } }
                th scope="col" { (lang.console(Text::Status)) }
                @if detailed { th scope="col" { (lang.console(Text::AccountLevel)) } }
            } }
            tbody {
                @for user in found {
                    tr {
                        td { a href={ (link_base) "/" (user.id) } { (user.username) } }
                        td { (user.display_name) }
                        td { (user.email) }
                        @if detailed { td { (user.org) } }
                        td { (user.status) }
                        @if detailed { td { (user.identity_level.oiosaml_name()) } }
                    }
                }
            }
        }
    }
}

/// The page frame: language, title, language switch, main content.
pub fn frame(lang: Lang, title: Text, path: &str, body: Markup) -> Markup {
    let other = if lang == Lang::Da { Lang::En } else { Lang::Da };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.console(title)) " – Portner" }
            }
            body {
                nav aria-label=(lang.console(Text::Navigation)) {
                    a href="/helpdesk" { (lang.console(Text::Helpdesk)) }
                    " · "
                    a href="/admin" { (lang.console(Text::Administration)) }
                    " · "
                    a href="/audit" { (lang.console(Text::Audit)) }
                    " · "
                    a href={ (path) "?lang=" (other.code()) }
                        hreflang=(other.code()) lang=(other.code()) {
                        (lang.console(Text::OtherLanguage))
                    }
                }
                main {
                    h1 { (lang.console(title)) }
                    (body)
                }
            }
        }
    }
}

/// Console texts in both languages.
pub trait ConsoleText {
    /// The text for `key` in this language.
    fn console(self, key: Text) -> &'static str;
}

impl ConsoleText for Lang {
    fn console(self, key: Text) -> &'static str {
        let (da, en) = key.both();
        match self {
            Self::Da => da,
            Self::En => en,
        }
    }
}

/// Every text the consoles show.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[allow(missing_docs)]
pub enum Text {
    Groups,
    GroupsHint,
    Members,
    NoGroups,
    SyncScope,
    ConfirmEntityId,
    NoSps,
    RegisterSp,
    RegisterSpHint,
    RemoveSp,
    ServiceProviders,
    SpEncryption,
    SpMetadata,
    SpMinimumLevel,
    SpProfile,
    SpSignResponse,
    EditPolicies,
    EditPoliciesHint,
    FileValue,
    InForce,
    Override,
    SavePolicies,
    Organisations,
    OrganisationHint,
    PUnits,
    SeNumbers,
    SaveOrganisation,
    AssignRight,
    DefineRight,
    NoRights,
    RevokeRight,
    Right,
    Rights,
    RightsCatalogue,
    Scope,
    Source,
    ConfirmUsername,
    DeleteHint,
    DeleteUser,
    EditProfile,
    SaveProfile,
    CodeEmailed,
    CodeSent,
    EmailCode,
    EmailFailed,
    Count,
    Decision,
    Dismiss,
    Drift,
    LastReconcile,
    Linked,
    Never,
    NoDrift,
    NoFailures,
    NoSuchAction,
    NoSync,
    OpenFailures,
    Queue,
    Retry,
    Sync,
    AdminOwnAccount,
    Administration,
    CreateUser,
    CreateUserHint,
    Disable,
    DisableHint,
    Enable,
    EnableHint,
    GrantRole,
    NoSnapshots,
    Organisation,
    Policies,
    PolicyHint,
    PolicyHistory,
    RevokeRole,
    Roles,
    Setting,
    UsernameTaken,
    Users,
    Value,
    Action,
    ActivationCode,
    AlreadyApproved,
    Approve,
    ApprovalRequested,
    ApprovalRequestedHint,
    ApprovedBy,
    AwaitingApproval,
    NoRequests,
    NoSuchRequest,
    OwnRequest,
    RequestExpired,
    RequestedBy,
    ResetRequests,
    AccountLevel,
    Audit,
    CallBack,
    Code,
    CodeExpires,
    CodeHint,
    Console,
    Credential,
    Credentials,
    DocumentType,
    DrivingLicence,
    Email,
    Failed,
    Forbidden,
    Helpdesk,
    InPerson,
    IssueCode,
    LastUsed,
    Level,
    LevelTooLow,
    Lockout,
    LockedUntil,
    Method,
    Name,
    Navigation,
    NoCredentials,
    NoEvents,
    NoUsers,
    NotAllowed,
    NotFound,
    NotLocked,
    OtherDocument,
    OtherLanguage,
    Passport,
    PasswordChangeRequired,
    Reason,
    RecentSignIns,
    RecordVerification,
    Reference,
    ReferenceHint,
    RequirePasswordChange,
    ResetCode,
    ResidenceCard,
    Revoke,
    Search,
    SearchHint,
    SearchResults,
    SelfService,
    SignInAgain,
    Status,
    TooMany,
    Unlock,
    User,
    Username,
    VerificationInvalid,
    VerificationRequired,
    VerificationValid,
    VideoCall,
    BadInput,
    WrongFailures,
}

impl Text {
    const fn both(self) -> (&'static str, &'static str) {
        match self {
            Self::AssignRight => ("Tildel rettighed", "Assign right"),
            Self::DefineRight => ("Tilføj lokal rettighed", "Add local right"),
            Self::NoRights => ("Ingen rettigheder.", "No rights."),
            Self::RevokeRight => ("Fjern", "Revoke"),
            Self::Right => ("Rettighed", "Right"),
            Self::Rights => ("Rettigheder", "Rights"),
            Self::RightsCatalogue => ("Rettighedskatalog", "Rights catalogue"),
            Self::Scope => ("Omfang", "Scope"),
            Self::Organisations => ("Organisationer", "Organisations"),
            Self::OrganisationHint => (
                "SE-numre og P-enheder adskilles med komma eller mellemrum. Et nummer, som en \
                 rettighed stadig er tildelt inden for, kan ikke fjernes. CVR-nummer og suffiks \
                 kan ikke ændres.",
                "Separate SE numbers and P-units with commas or spaces. A number that a right is \
                 still assigned within cannot be removed. The CVR number and suffix cannot be \
                 changed.",
            ),
            Self::PUnits => ("P-enheder", "P-units"),
            Self::SeNumbers => ("SE-numre", "SE numbers"),
            Self::SaveOrganisation => ("Gem organisation", "Save organisation"),
            Self::Source => ("Kilde", "Source"),
            Self::ConfirmUsername => (
                "Skriv brugernavnet for at bekræfte",
                "Type the username to confirm",
            ),
            Self::DeleteHint => (
                "Sletning fjerner kontoen med nøgler, sessioner og rettigheder og kan ikke \
                 fortrydes. Revisionssporet bevarer hændelserne.",
                "Deleting removes the account with its keys, sessions and rights and cannot be \
                 undone. The audit trail keeps its events.",
            ),
            Self::DeleteUser => ("Slet bruger", "Delete user"),
            Self::EditProfile => ("Navn og e-mail", "Name and e-mail"),
            Self::SaveProfile => ("Gem", "Save"),
            Self::CodeEmailed => (
                "Koden er sendt med e-mail til brugerens adresse:",
                "The code was e-mailed to the user's address:",
            ),
            Self::CodeSent => ("Kode sendt", "Code sent"),
            Self::EmailCode => (
                "Udsted og send koden med e-mail",
                "Issue and e-mail the code",
            ),
            Self::EmailFailed => (
                "Koden kunne ikke sendes med e-mail. Giv den til brugeren ad den verificerede \
                 kanal.",
                "The code could not be e-mailed. Give it to the user over the verified channel.",
            ),
            Self::Count => ("Antal", "Count"),
            Self::Decision => ("Beslutning", "Decision"),
            Self::Dismiss => ("Afvis", "Dismiss"),
            Self::Drift => ("Afvigelser", "Drift"),
            Self::LastReconcile => ("Seneste afstemning", "Last reconcile"),
            Self::Linked => ("Forbundne brugere", "Linked users"),
            Self::Never => ("Aldrig", "Never"),
            Self::NoDrift => ("Ingen åbne afvigelser.", "No open drift findings."),
            Self::NoFailures => ("Ingen åbne fejl.", "No open failures."),
            Self::NoSuchAction => (
                "Der er ingen fejlet handling med det nummer i dine organisationer.",
                "There is no failed action with that number in your organisations.",
            ),
            Self::NoSync => (
                "Ingen af dine organisationer synkroniserer med MitID Erhverv.",
                "None of your organisations syncs with MitID Erhverv.",
            ),
            Self::OpenFailures => ("Åbne fejl", "Open failures"),
            Self::Queue => ("Kø", "Queue"),
            Self::Retry => ("Prøv igen", "Retry"),
            Self::Sync => ("MitID Erhverv-synkronisering", "MitID Erhverv sync"),
            Self::AdminOwnAccount => (
                "Du kan ikke ændre roller eller status på din egen konto. Bed en anden \
                 administrator.",
                "You cannot change the roles or status of your own account. Ask another \
                 administrator.",
            ),
            Self::Administration => ("Administration", "Administration"),
            Self::CreateUser => ("Opret bruger", "Create user"),
            Self::CreateUserHint => (
                "Brugeren oprettes som afventende aktivering. Helpdesk udsteder aktiveringskoden \
                 efter en identitetskontrol.",
                "The user is created pending activation. The helpdesk issues the activation \
                 code after an identity check.",
            ),
            Self::Disable => ("Deaktivér konto", "Disable account"),
            Self::DisableHint => (
                "Deaktivering afslutter brugerens sessioner og afviser log ind.",
                "Disabling ends the user's sessions and refuses sign-in.",
            ),
            Self::Enable => ("Genaktivér konto", "Re-enable account"),
            Self::EnableHint => (
                "Kontoen vender tilbage til afventende aktivering: brugeren skal have en kode \
                 fra helpdesk efter en identitetskontrol.",
                "The account returns to pending activation: the user needs a code from the \
                 helpdesk after an identity check.",
            ),
            Self::GrantRole => ("Tildel rollen", "Grant the role"),
            Self::NoSnapshots => (
                "Ingen politik registreret endnu. Den registreres, når serveren starter.",
                "No policy recorded yet. It is recorded when the server starts.",
            ),
            Self::Organisation => ("Organisation (CVR)", "Organisation (CVR)"),
            Self::Policies => ("Politikker", "Policies"),
            Self::PolicyHint => (
                "Politikkerne sættes i konfigurationsfilen og registreres i revisionssporet ved \
                 hver start, der ændrer dem, og ved hver ændring herunder.",
                "Policies are set in the configuration file and recorded in the audit trail at \
                 every start that changes them, and at every change made below.",
            ),
            Self::EditPolicies => ("Ændr login-politikker", "Change sign-in policies"),
            Self::Groups => ("Grupper", "Groups"),
            Self::GroupsHint => (
                "Grupperne vedligeholdes af organisationens IdM-system gennem SCIM.",
                "Groups are kept by the organisation's IdM system through SCIM.",
            ),
            Self::Members => ("Medlemmer", "Members"),
            Self::NoGroups => ("Ingen grupper.", "No groups."),
            Self::SyncScope => (
                "Afgrænser MitID Erhverv-synkroniseringen",
                "Scopes the MitID Erhverv sync",
            ),
            Self::ConfirmEntityId => (
                "Skriv entityID igen for at bekræfte",
                "Type the entityID again to confirm",
            ),
            Self::NoSps => (
                "Ingen tjenesteudbydere er registreret.",
                "No service providers are registered.",
            ),
            Self::RegisterSp => ("Registrér tjenesteudbyder", "Register service provider"),
            Self::RegisterSpHint => (
                "Metadata er den eneste kilde til tjenesteudbyderens nøgler og adresser. \
                 Hentning fra en URL og SHA-1-signaturer kræver kommandolinjen (portner sp add).",
                "Metadata is the only source of the service provider's keys and endpoints. \
                 Fetching from a URL and SHA-1 signatures need the command line (portner sp add).",
            ),
            Self::RemoveSp => ("Fjern", "Remove"),
            Self::ServiceProviders => ("Tjenesteudbydere", "Service providers"),
            Self::SpEncryption => ("Kryptering", "Encryption"),
            Self::SpMetadata => ("Metadata (XML)", "Metadata (XML)"),
            Self::SpMinimumLevel => ("Laveste sikringsniveau", "Lowest assurance level"),
            Self::SpProfile => ("Profil", "Profile"),
            Self::SpSignResponse => (
                "Signér også Response (ud over Assertion)",
                "Sign the Response as well as the Assertion",
            ),
            Self::EditPoliciesHint => (
                "Et tomt felt bruger konfigurationsfilens værdi. Ændringen gælder hele \
                 installationen og når alle servere inden for 15 sekunder.",
                "An empty field uses the configuration file's value. A change applies to the \
                 whole installation and reaches every server within 15 seconds.",
            ),
            Self::InForce => ("Gældende", "In force"),
            Self::FileValue => ("Konfigurationsfil", "Configuration file"),
            Self::Override => ("Ny værdi", "New value"),
            Self::SavePolicies => ("Gem politikker", "Save policies"),
            Self::PolicyHistory => ("Ændringshistorik", "Change history"),
            Self::RevokeRole => ("Fjern rollen", "Revoke the role"),
            Self::Roles => ("Roller", "Roles"),
            Self::Setting => ("Indstilling", "Setting"),
            Self::UsernameTaken => ("Brugernavnet er allerede i brug.", "The username is taken."),
            Self::Users => ("Brugere", "Users"),
            Self::Value => ("Værdi", "Value"),
            Self::Action => ("Handling", "Action"),
            Self::ActivationCode => ("Aktiveringskode udstedt", "Activation code issued"),
            Self::AlreadyApproved => (
                "Anmodningen er allerede godkendt.",
                "The request has already been approved.",
            ),
            Self::Approve => ("Godkend nulstillingen", "Approve the reset"),
            Self::ApprovalRequested => ("Afventer godkendelse", "Awaiting approval"),
            Self::ApprovalRequestedHint => (
                "En nulstilling erstatter brugerens sikkerhedsnøgle, så en anden \
                 helpdesk-medarbejder skal godkende den. Bed en kollega godkende anmodningen på \
                 brugerens side eller på helpdeskens forside, og udsted så koden igen, før din \
                 identitetskontrol udløber.",
                "A reset replaces the user's security key, so another helpdesk operator must \
                 approve it. Ask a colleague to approve the request on the user's page or the \
                 helpdesk front page, then issue the code again before your identity check \
                 expires.",
            ),
            Self::ApprovedBy => ("Godkendt af", "Approved by"),
            Self::AwaitingApproval => (
                "Afventer en anden medarbejder",
                "Waiting for another operator",
            ),
            Self::NoRequests => (
                "Ingen nulstillinger afventer godkendelse.",
                "No resets await approval.",
            ),
            Self::NoSuchRequest => ("Anmodningen findes ikke.", "No such request."),
            Self::OwnRequest => (
                "Du kan ikke godkende din egen anmodning. En anden helpdesk-medarbejder skal \
                 godkende den.",
                "You cannot approve your own request. Another helpdesk operator must approve \
                 it.",
            ),
            Self::RequestExpired => (
                "Anmodningen er udløbet sammen med den identitetskontrol, den bygger på. Den, \
                 der anmodede, må registrere en ny kontrol og anmode igen.",
                "The request lapsed with the identity check it rests on. The requester must \
                 record a new check and ask again.",
            ),
            Self::RequestedBy => ("Anmodet af", "Requested by"),
            Self::ResetRequests => ("Nulstillinger til godkendelse", "Resets for approval"),
            Self::AccountLevel => ("Kontoens sikringsniveau", "Account assurance level"),
            Self::Audit => ("Revision", "Audit"),
            Self::BadInput => (
                "Et felt mangler, er for langt eller ugyldigt.",
                "A field is missing, too long or invalid.",
            ),
            Self::CallBack => (
                "Opringning til registreret nummer",
                "Call-back to registered number",
            ),
            Self::Code => ("Kode", "Code"),
            Self::CodeExpires => ("Udløber", "Expires"),
            Self::CodeHint => (
                "Koden vises kun denne ene gang. Giv den til brugeren ad den verificerede kanal; \
                 brugeren vælger selv sin adgangskode på /activate.",
                "The code is shown this once only. Give it to the user over the verified \
                 channel; the user chooses their own password at /activate.",
            ),
            Self::Console => ("Konsol", "Console"),
            Self::Credential => ("Sikkerhedsnøgle", "Security key"),
            Self::Credentials => ("Sikkerhedsnøgler", "Security keys"),
            Self::DocumentType => ("Dokumenttype", "Document type"),
            Self::DrivingLicence => ("Kørekort", "Driving licence"),
            Self::Email => ("E-mail", "E-mail"),
            Self::Failed => (
                "Noget gik galt. Prøv igen.",
                "Something went wrong. Try again.",
            ),
            Self::Forbidden => (
                "Du har ikke adgang til denne side.",
                "You do not have access to this page.",
            ),
            Self::Helpdesk => ("Helpdesk", "Helpdesk"),
            Self::InPerson => (
                "Personligt fremmøde med billed-id",
                "In person with photo ID",
            ),
            Self::IssueCode => ("Udsted kode", "Issue code"),
            Self::LastUsed => ("Sidst brugt", "Last used"),
            Self::Level => ("Niveau", "Level"),
            Self::LevelTooLow => (
                "Konsollen kræver log ind på NSIS betydelig: adgangskode og sikkerhedsnøgle.",
                "The console needs a sign-in at NSIS Substantial: password and security key.",
            ),
            Self::Lockout => ("Spærring", "Lockout"),
            Self::LockedUntil => ("Spærret til", "Locked until"),
            Self::Method => ("Metode", "Method"),
            Self::Name => ("Navn", "Name"),
            Self::Navigation => ("Navigation", "Navigation"),
            Self::NoCredentials => ("Ingen sikkerhedsnøgler.", "No security keys."),
            Self::NoEvents => ("Ingen hændelser.", "No events."),
            Self::NoUsers => ("Ingen brugere fundet.", "No users found."),
            Self::NotAllowed => (
                "Det kan ikke lade sig gøre for denne konto i dens nuværende tilstand.",
                "That is not possible for this account in its current state.",
            ),
            Self::NotFound => ("Brugeren findes ikke.", "No such user."),
            Self::NotLocked => ("Kontoen er ikke spærret.", "The account is not locked."),
            Self::OtherDocument => ("Andet billed-id", "Other photo ID"),
            Self::OtherLanguage => ("English", "Dansk"),
            Self::Passport => ("Pas", "Passport"),
            Self::PasswordChangeRequired => (
                "Skift af adgangskode kræves siden",
                "Password change required since",
            ),
            Self::Reason => ("Begrundelse", "Reason"),
            Self::RecentSignIns => ("Seneste log ind", "Recent sign-ins"),
            Self::RecordVerification => ("Registrér identitetskontrol", "Record identity check"),
            Self::Reference => ("Reference", "Reference"),
            Self::ReferenceHint => (
                "Dokumentets løbenummer eller sagsnummer. Aldrig et CPR-nummer.",
                "The document's serial number or a case number. Never a CPR number.",
            ),
            Self::RequirePasswordChange => ("Kræv ny adgangskode", "Require password change"),
            Self::ResetCode => ("Nulstillingskode udstedt", "Reset code issued"),
            Self::ResidenceCard => ("Opholdskort", "Residence card"),
            Self::Revoke => ("Tilbagekald", "Revoke"),
            Self::Search => ("Søg", "Search"),
            Self::SearchHint => ("Brugernavn, navn eller e-mail", "Username, name or e-mail"),
            Self::SearchResults => ("Resultater", "Results"),
            Self::SelfService => (
                "Du kan ikke udføre helpdesk-handlinger på din egen konto.",
                "You cannot take helpdesk actions on your own account.",
            ),
            Self::SignInAgain => ("Log ind igen", "Sign in again"),
            Self::Status => ("Status", "Status"),
            Self::TooMany => (
                "Der er flere resultater end vist. Gør søgningen mere præcis.",
                "There are more results than shown. Narrow the search.",
            ),
            Self::Unlock => ("Ophæv spærring", "Unlock"),
            Self::User => ("Bruger", "User"),
            Self::Username => ("Brugernavn", "Username"),
            Self::VerificationInvalid => (
                "Identitetskontrollen er ikke gyldig: metoden understøtter ikke niveauet, \
                 eller dokument eller reference mangler eller ligner et CPR-nummer.",
                "The identity check is not valid: the method does not support that level, \
                 or the document or reference is missing or looks like a CPR number.",
            ),
            Self::VerificationRequired => (
                "Registrér en identitetskontrol af brugeren, før du handler. Den gælder i 30 \
                 minutter for dig.",
                "Record an identity check of the user before acting. It is valid for 30 \
                 minutes, for you.",
            ),
            Self::VerificationValid => ("Gyldig identitetskontrol", "Valid identity check"),
            Self::VideoCall => ("Videoopkald med billed-id", "Video call with photo ID"),
            Self::WrongFailures => ("Forkerte adgangskoder i træk", "Wrong passwords in a row"),
        }
    }
}
