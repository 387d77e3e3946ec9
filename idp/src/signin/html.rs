//! Server-rendered pages (maud) in Danish and English.
//!
//! Every form carries the CSRF token; every error message is tied to its field with
//! `aria-describedby`; the only script is the static WebAuthn file, which reads its options
//! from a JSON data block (not executed, so the CSP needs no `unsafe-inline`).

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The page language.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Lang {
    /// Dansk (the default).
    Da,
    /// English.
    En,
}

impl Lang {
    /// The `lang` attribute and query value.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Da => "da",
            Self::En => "en",
        }
    }

    /// Picks the language from an explicit choice, else from `Accept-Language`.
    pub fn pick(choice: Option<&str>, accept_language: Option<&str>) -> Self {
        match choice {
            Some("en") => return Self::En,
            Some("da") => return Self::Da,
            _ => {}
        }
        let accept = accept_language.unwrap_or("").to_ascii_lowercase();
        let first = accept
            .split(',')
            .map(str::trim)
            .find(|tag| tag.starts_with("da") || tag.starts_with("en"));
        if first.is_some_and(|tag| tag.starts_with("en")) {
            Self::En
        } else {
            Self::Da
        }
    }

    /// The text for `key` in this language.
    pub fn text(self, key: Text) -> &'static str {
        let (da, en) = key.both();
        match self {
            Self::Da => da,
            Self::En => en,
        }
    }
}

/// Every text the pages show.
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum Text {
    SignIn,
    Username,
    Password,
    Continue,
    Failed,
    Throttled,
    BadInput,
    Activate,
    Code,
    NewPassword,
    NewPasswordHint,
    SecurityKey,
    SecurityKeyHint,
    UseSecurityKey,
    Account,
    Level,
    SignOut,
    Sessions,
    EndAllSessions,
    Credentials,
    SessionRequired,
    PolicyShort,
    PolicyLong,
    PolicyWeak,
    PolicyName,
    PolicyReused,
    OtherLanguage,
    NeedsScript,
    NotAllowed,
    Name,
    Rename,
    Remove,
    AddSecurityKey,
    ChangePassword,
    ThisSession,
    EndSession,
    SamlRefused,
    SamlFailed,
    PasswordChangeRequired,
    Recover,
    RecoverIntro,
    RecoverLink,
    PasswordRecovered,
}

impl Text {
    const fn both(self) -> (&'static str, &'static str) {
        match self {
            Self::SignIn => ("Log ind", "Sign in"),
            Self::Username => ("Brugernavn", "Username"),
            Self::Password => ("Adgangskode", "Password"),
            Self::Continue => ("Fortsæt", "Continue"),
            Self::Failed => (
                "Log ind mislykkedes. Kontrollér oplysningerne og prøv igen.",
                "Sign-in failed. Check your details and try again.",
            ),
            Self::Throttled => (
                "For mange forsøg. Vent et minut og prøv igen.",
                "Too many attempts. Wait a minute and try again.",
            ),
            Self::BadInput => (
                "Et felt er for langt eller ugyldigt.",
                "A field is too long or invalid.",
            ),
            Self::Activate => ("Aktivér din konto", "Activate your account"),
            Self::Code => ("Aktiveringskode", "Activation code"),
            Self::NewPassword => ("Ny adgangskode", "New password"),
            Self::NewPasswordHint => (
                "Mindst {min} tegn. Brug gerne flere ord. Dit navn og brugernavn må ikke indgå.",
                "At least {min} characters. Several words work well. \
                 Leave out your name and username.",
            ),
            Self::SecurityKey => ("Sikkerhedsnøgle", "Security key"),
            Self::SecurityKeyHint => (
                "Tryk på knappen og brug din sikkerhedsnøgle eller adgangsnøgle.",
                "Press the button and use your security key or passkey.",
            ),
            Self::UseSecurityKey => ("Brug sikkerhedsnøgle", "Use security key"),
            Self::Account => ("Din konto", "Your account"),
            Self::Level => ("Sikringsniveau (NSIS)", "Assurance level (NSIS)"),
            Self::SignOut => ("Log ud", "Sign out"),
            Self::Sessions => ("Sessioner", "Sessions"),
            Self::EndAllSessions => ("Afslut alle sessioner", "End all sessions"),
            Self::Credentials => ("Sikkerhedsnøgler", "Security keys"),
            Self::SessionRequired => ("Log ind først.", "Please sign in first."),
            Self::PolicyShort => ("Adgangskoden er for kort.", "The password is too short."),
            Self::PolicyLong => ("Adgangskoden er for lang.", "The password is too long."),
            Self::PolicyWeak => (
                "Adgangskoden er for let at gætte.",
                "The password is too easy to guess.",
            ),
            Self::PolicyName => (
                "Adgangskoden må ikke indeholde dit navn, brugernavn eller organisationens navn.",
                "The password must not contain your name, username or organisation name.",
            ),
            Self::PolicyReused => (
                "Adgangskoden er brugt før.",
                "The password was used before.",
            ),
            Self::OtherLanguage => ("English", "Dansk"),
            Self::NotAllowed => (
                "Det kan ikke lade sig gøre, f.eks. at fjerne den sidste sikkerhedsnøgle.",
                "That is not possible, e.g. removing the last security key.",
            ),
            Self::Name => ("Navn", "Name"),
            Self::Rename => ("Omdøb", "Rename"),
            Self::Remove => ("Fjern", "Remove"),
            Self::AddSecurityKey => ("Tilføj sikkerhedsnøgle", "Add security key"),
            Self::ChangePassword => ("Skift adgangskode", "Change password"),
            Self::ThisSession => ("denne session", "this session"),
            Self::EndSession => ("Afslut", "End"),
            Self::SamlRefused => (
                "Anmodningen fra tjenesten kunne ikke godkendes, eller den er udløbet. Gå tilbage \
                 til tjenesten og prøv igen.",
                "The request from the service could not be accepted, or it has expired. Go back \
                 to the service and try again.",
            ),
            Self::Recover => ("Glemt adgangskode", "Forgotten password"),
            Self::RecoverIntro => (
                "Har du en registreret sikkerhedsnøgle eller adgangsnøgle med PIN-kode eller \
                 biometri, kan du selv vælge en ny adgangskode: skriv dit brugernavn og den nye \
                 adgangskode, og bekræft med nøglen. Ellers kontakt helpdesk.",
                "If you have a registered security key or passkey with a PIN or biometrics, \
                 you can choose a new password yourself: enter your username and the new \
                 password, and confirm with the key. Otherwise, contact the helpdesk.",
            ),
            Self::RecoverLink => ("Glemt adgangskode?", "Forgotten your password?"),
            Self::PasswordRecovered => (
                "Din adgangskode er skiftet, og dine sessioner er afsluttet. Log ind med den nye \
                 adgangskode og din nøgle.",
                "Your password has been changed and your sessions have ended. Sign in with the \
                 new password and your key.",
            ),
            Self::PasswordChangeRequired => (
                "Vælg en ny adgangskode, før du fortsætter til andre tjenester.",
                "Choose a new password before you continue to other services.",
            ),
            Self::SamlFailed => (
                "Der opstod en fejl hos Portner. Prøv igen om lidt.",
                "Something went wrong at Portner. Try again in a moment.",
            ),
            Self::NeedsScript => (
                "Dette trin kræver JavaScript til sikkerhedsnøglen.",
                "This step needs JavaScript for the security key.",
            ),
        }
    }
}

/// A form field: name, label, input type, autocomplete hint.
pub struct Field {
    /// The form field name.
    pub name: &'static str,
    /// Its label.
    pub label: Text,
    /// `text` or `password`.
    pub kind: &'static str,
    /// The `autocomplete` value.
    pub autocomplete: &'static str,
    /// A hint shown under the field.
    pub hint: Option<Text>,
}

/// `&` when `path` has a query already (a sign-in continuing a SAML request), else `?`.
fn query_separator(path: &str) -> &'static str {
    if path.contains('?') { "&" } else { "?" }
}

/// The page frame: language, title, language switch, main content.
pub fn page(lang: Lang, title: Text, path: &str, body: Markup) -> Markup {
    let other = if lang == Lang::Da { Lang::En } else { Lang::Da };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.text(title)) " – Portner" }
            }
            body {
                nav aria-label="language" {
                    a href={ (path) (query_separator(path)) "lang=" (other.code()) }
                        hreflang=(other.code()) lang=(other.code()) {
                        (lang.text(Text::OtherLanguage))
                    }
                }
                main {
                    h1 { (lang.text(title)) }
                    (body)
                }
            }
        }
    }
}

/// A form of text fields with an optional error tied to the fields. `{min}` in a hint shows
/// the configured minimum password length.
pub fn form(
    lang: Lang,
    action: &str,
    csrf: &str,
    fields: &[Field],
    error: Option<Text>,
    submit: Text,
    min_password_length: u32,
) -> Markup {
    let minimum = min_password_length.to_string();
    html! {
        @if let Some(error) = error {
            p id="form-error" role="alert" { (lang.text(error)) }
        }
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            @for field in fields {
                p {
                    label for=(field.name) { (lang.text(field.label)) }
                    br;
                    input id=(field.name) name=(field.name) type=(field.kind)
                        autocomplete=(field.autocomplete) required
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[described_by(field, error)];
                    @if let Some(hint) = field.hint {
                        br;
                        @let text = lang.text(hint).replace("{min}", &minimum);
                        small id={ (field.name) "-hint" } { (text) }
                    }
                }
            }
            button type="submit" { (lang.text(submit)) }
        }
    }
}

fn described_by(field: &Field, error: Option<Text>) -> Option<String> {
    let mut ids = Vec::new();
    if error.is_some() {
        ids.push("form-error".to_owned());
    }
    if field.hint.is_some() {
        ids.push(format!("{}-hint", field.name));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// The WebAuthn step: options in a JSON data block, a form the script fills and submits.
pub fn webauthn_step(
    lang: Lang,
    mode: &str,
    action: &str,
    csrf: &str,
    handle: &str,
    options_json: &str,
) -> Markup {
    // `<` inside a script element could end it early; the JSON escape keeps it valid JSON.
    let safe_json = options_json.replace('<', "\\u003c");
    html! {
        p { (lang.text(Text::SecurityKeyHint)) }
        noscript { p { (lang.text(Text::NeedsScript)) } }
        script type="application/json" id="webauthn-options" data-mode=(mode) {
            (PreEscaped(safe_json))
        }
        p id="webauthn-error" role="alert" hidden {}
        form id="webauthn-form" method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="ceremony" value=(handle);
            input type="hidden" name="credential" id="webauthn-credential" value="";
            button type="button" id="webauthn-start" { (lang.text(Text::UseSecurityKey)) }
        }
        script src="/static/webauthn.js" {}
    }
}
