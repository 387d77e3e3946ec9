//! End to end with pysaml2 as the SP (issue 4, "Tests that must exist").
//!
//! Runs the real `portner` binary and two instances of a real third-party SP,
//! `tests/e2e/saml/sp.py` (pysaml2 in its strict mode, each with fresh keys of its own),
//! registered with the legacy encryption pair because pysaml2 decrypts through the xmlsec1
//! command line (security-tests.md 7.1). Then `tests/e2e/signin/saml-sso.mjs` drives Debian's
//! Chromium with a CDP virtual authenticator through SP-initiated sign-in over both bindings,
//! a replayed Response, single sign-on to the second SP, `ForceAuthn`, single logout across
//! both and `IsPassive` without a session, and prints a report that this test checks flow by
//! flow, followed by the audit events the run left.
//!
//! Needs Node with the modules of `tests/e2e/signin`, Chromium, xmlsec1 and the Python of
//! `PORTNER_TEST_PYTHON_XMLSEC` with pysaml2 (`tests/e2e/saml/requirements.txt`). Without them
//! the test prints a visible skip line, except under CI (`CI` set), where it fails.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{CVR, ORG_NAME, PASSWORD, USERNAME};

const XMLSEC1: &str = "/usr/bin/xmlsec1";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const PROFESSIONAL_UUID: &str = "https://data.gov.dk/model/core/eid/professional/uuid/";
const SPEC_VERSION: &str = "https://data.gov.dk/model/core/specVersion";
const LOA: &str = "https://data.gov.dk/concept/core/nsis/loa";
const PROFESSIONAL_CVR: &str = "https://data.gov.dk/model/core/eid/professional/cvr";
const ORG_NAME_ATTRIBUTE: &str = "https://data.gov.dk/model/core/eid/professional/orgName";
const FULL_NAME: &str = "https://data.gov.dk/model/core/eid/fullName";
/// The user's display name: markup that would add a `role` attribute if Portner built its
/// XML from strings (A11).
const INJECTED_NAME: &str = "Anna </saml:AttributeValue></saml:Attribute><saml:Attribute \
                             Name=\"role\"><saml:AttributeValue>admin & R&D <lab> ]]>";

fn sp_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/saml/sp.py")
}

/// The Python with pysaml2, or why there is none.
fn python_with_pysaml2() -> Result<PathBuf, String> {
    let Some(python) = std::env::var_os("PORTNER_TEST_PYTHON_XMLSEC").map(PathBuf::from) else {
        return Err("PORTNER_TEST_PYTHON_XMLSEC is not set".to_owned());
    };
    let import = Command::new(&python).args(["-c", "import saml2"]).output();
    if !import.is_ok_and(|output| output.status.success()) {
        return Err(format!("no pysaml2 in {}", python.display()));
    }
    Ok(python)
}

fn tools() -> Result<PathBuf, String> {
    if let Some(reason) = support::missing_browser_tool() {
        return Err(reason);
    }
    if !Path::new(XMLSEC1).exists() {
        return Err(format!("no xmlsec1 at {XMLSEC1}"));
    }
    python_with_pysaml2()
}

/// Starts the SP, which writes its metadata to `folder/sp-metadata.xml` first;
/// `slo_bindings` is `both` (Redirect and POST logout endpoints) or `post` (POST only).
fn start_sp(
    python: &Path,
    folder: &Path,
    sp_port: u16,
    idp_url: &str,
    slo_bindings: &str,
) -> support::Running {
    let mut command = Command::new(python);
    command
        .arg(sp_script())
        .arg(sp_port.to_string())
        .arg(folder)
        .arg(format!("{idp_url}/saml/metadata"))
        .arg(XMLSEC1)
        .arg(slo_bindings);
    support::start(command, "sp listening on")
}

/// Registers an SP with the legacy encryption pair; `attributes` are released beyond the core.
fn register_sp(data: &Path, port: u16, name: &str, metadata: &Path, attributes: &[&str]) {
    let mut add = support::portner(data, port);
    add.args(["sp", "add", "--metadata"]).arg(metadata);
    add.args(["--encryption", "legacy", "--name", name]);
    for attribute in attributes {
        add.args(["--attribute", attribute]);
    }
    support::run_ok(add);
}

/// A free port that is not `taken`: Portner's port is free until its server starts.
fn port_other_than(taken: u16) -> u16 {
    std::iter::repeat_with(support::free_port)
        .find(|&port| port != taken)
        .unwrap()
}

fn run_browser(idp_url: &str, sp_urls: [&str; 2], code: &str) -> Value {
    let mut browser = Command::new("node");
    browser
        .current_dir(support::e2e_folder())
        .arg("saml-sso.mjs")
        .args([idp_url, sp_urls[0], sp_urls[1], USERNAME, code, PASSWORD])
        .env("CHROMIUM_PATH", support::chromium_path());
    let output = browser.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "browser run failed: {stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let report = serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    // Shown with the output of a failed test (or with --nocapture).
    eprintln!("browser report: {report:#}");
    report
}

#[test]
fn pysaml2_signs_an_employee_in_over_both_bindings_with_sso_replay_refusal_and_slo() {
    let python = match tools() {
        Ok(python) => python,
        Err(reason) => return support::skip_unless_ci("pysaml2 end-to-end test", &reason),
    };
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let port = support::free_port();
    let idp_url = format!("http://localhost:{port}");
    let code = support::pending_user(&data, port, INJECTED_NAME);

    // The SPs come first: each writes its metadata for `sp add` and reads Portner's on first
    // use. They run on 127.0.0.1, another site than Portner's `localhost` (7.4).
    let mut sps = Vec::new();
    let mut sp_urls = Vec::new();
    // A is configured to receive the name (AT-9), B only the core attributes. B offers only
    // an HTTP-POST logout endpoint, so single logout is passed on to it by POST.
    let sp_setups = [
        ("sp-a", &[FULL_NAME][..], "both"),
        ("sp-b", &[][..], "post"),
    ];
    for (name, attributes, slo_bindings) in sp_setups {
        let sp_folder = folder.path().join(name);
        let sp_port = port_other_than(port);
        sps.push(start_sp(
            &python,
            &sp_folder,
            sp_port,
            &idp_url,
            slo_bindings,
        ));
        register_sp(
            &data,
            port,
            name,
            &sp_folder.join("sp-metadata.xml"),
            attributes,
        );
        sp_urls.push(format!("http://127.0.0.1:{sp_port}"));
    }
    let server = support::start_server(&data, port);

    let report = run_browser(&idp_url, [&sp_urls[0], &sp_urls[1]], &code);
    let checks = Checks {
        report: &report,
        idp_url: &idp_url,
        sp_a: &sp_urls[0],
        sp_b: &sp_urls[1],
    };
    checks.all();
    drop((server, sps));

    let mut verify = support::portner(&data, port);
    verify.args(["audit", "verify"]);
    support::run_ok(verify);
    saml_audit_events_are_recorded(&data);
}

/// Issue 4 §7: each refused request and each issued response is an audit event; so is the
/// logout. Read straight from the stopped server's database.
fn saml_audit_events_are_recorded(data: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Events of `kind` whose data contains `text`.
    let count = |kind: &str, text: &str| -> i64 {
        runtime.block_on(async {
            let url = format!("sqlite://{}?mode=ro", data.join("portner.db").display());
            let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM audit_events WHERE kind = ? AND instr(data, ?) > 0",
            )
            .bind(kind)
            .bind(text)
            .fetch_one(&mut connection)
            .await
            .unwrap();
            sqlx::Row::get(&row, "n")
        })
    };

    // Redirect at A, SSO at B, POST at A, ForceAuthn at B.
    assert_eq!(count("SAML_RESPONSE_ISSUED", ""), 4);
    // The SHA-1 request and the passive one without a session, each with its reason code
    // (security-tests.md §0).
    assert_eq!(count("SAML_REQUEST_REFUSED", ""), 2);
    assert_eq!(count("SAML_REQUEST_REFUSED", "SIG_ALG_FORBIDDEN"), 1);
    assert_eq!(count("SAML_REQUEST_REFUSED", "NO_PASSIVE"), 1);
    assert_eq!(count("SAML_LOGOUT", ""), 1);
}

/// The assertions on the browser report, one function per flow.
struct Checks<'a> {
    report: &'a Value,
    idp_url: &'a str,
    sp_a: &'a str,
    sp_b: &'a str,
}

impl Checks<'_> {
    fn all(&self) {
        assert_eq!(self.report["result"], "completed", "{:#}", self.report);
        self.sha1_refused();
        assert_eq!(
            self.flow("activate")["activated"],
            true,
            "{:#}",
            self.report
        );
        self.redirect_login();
        self.replay_refused();
        self.single_sign_on();
        self.post_login();
        self.forced_sign_in();
        self.single_logout();
        self.passive_without_session();
        assert!(self.report["credentials"][0]["signCount"].as_u64() >= Some(2));
    }

    fn flow(&self, name: &str) -> &Value {
        let flow = &self.report["flows"][name];
        assert!(flow.get("error").is_none(), "{name}: {:#}", self.report);
        flow
    }

    /// A12 / CR-7: Portner answers an RSA-SHA1 request with an error before sign-in, sends the
    /// browser nowhere and echoes nothing of the request (RQ-8).
    fn sha1_refused(&self) {
        let flow = self.flow("sha1");
        let status = flow["status"].as_u64().unwrap();
        assert!((400..500).contains(&status), "{flow:#}");
        assert_eq!(flow["redirect"], Value::Null, "{flow:#}");
        assert_eq!(flow["echoes_request"], false, "{flow:#}");
    }

    /// The first sign-in asks for password and key and lands at the SP with the attributes.
    fn redirect_login(&self) {
        let flow = self.signed_in("redirect");
        assert_eq!(flow["password_page"], true, "{flow:#}");
        let sp = &flow["sp"];

        // RS-1: exactly one EncryptedAssertion, which pysaml2 decrypted and whose signature
        // it verified (want_assertions_signed).
        assert_eq!(sp["shape"]["encrypted_assertions"], 1, "{sp:#}");
        assert_eq!(sp["shape"]["assertions"], 0, "{sp:#}");

        // NI-1, NI-2: a persistent professional UUID NameID.
        assert_eq!(sp["name_id"]["format"], PERSISTENT, "{sp:#}");
        let value = sp["name_id"]["value"].as_str().unwrap();
        let uuid = value
            .strip_prefix(PROFESSIONAL_UUID)
            .unwrap_or_else(|| panic!("{sp:#}"));
        assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{sp:#}");

        // AT-1, AT-2, AT-4: the OIOSAML 3 professional attributes.
        let attributes = &sp["attributes"];
        assert_eq!(
            attributes[SPEC_VERSION],
            serde_json::json!(["OIO-SAML-3.0"])
        );
        assert_eq!(attributes[LOA], serde_json::json!(["Substantial"]));
        assert_eq!(attributes[PROFESSIONAL_CVR], serde_json::json!([CVR]));
        assert_eq!(
            attributes[ORG_NAME_ATTRIBUTE],
            serde_json::json!([ORG_NAME])
        );

        // A11 / RS-12: the markup in the name arrives as one literal value, and no attribute
        // appears that Portner did not send.
        assert_eq!(attributes[FULL_NAME], serde_json::json!([INJECTED_NAME]));
        assert!(attributes.get("role").is_none(), "{sp:#}");
    }

    /// A6 / 6.8.3: the SP spent the request ID, so the same Response is unsolicited now.
    fn replay_refused(&self) {
        let flow = self.flow("replay");
        let status = flow["status"].as_u64().unwrap();
        assert!((400..500).contains(&status), "{flow:#}");
        assert!(
            flow["body"].as_str().unwrap().contains("Unsolicited"),
            "{flow:#}"
        );
    }

    /// Issue 4 §5: the second SP gets its assertion without a page at Portner; RS-8: its
    /// AuthnInstant is still the time of the real sign-in; NI-3: its persistent NameID is its
    /// own (pairwise per SP, Portner's default).
    fn single_sign_on(&self) {
        let first = &self.flow("redirect")["sp"];
        let flow = self.signed_in("sso");
        assert_eq!(flow["password_page"], false, "{flow:#}");
        // Answered where the request arrived: the session sufficed, so no detour through
        // /saml/continue (one commit per single sign-on).
        let answered_at = self.answered_at(flow);
        assert_eq!(
            answered_at,
            format!("{}/saml/sso", self.idp_url),
            "{flow:#}"
        );
        let sp = &flow["sp"];
        assert_eq!(sp["name_id"]["format"], PERSISTENT, "{sp:#}");
        assert_ne!(sp["name_id"]["value"], first["name_id"]["value"], "{sp:#}");
        assert_eq!(sp["authn"], first["authn"], "{sp:#}");
        assert_eq!(sp["attributes"][LOA], serde_json::json!(["Substantial"]));
        // AT-9: B is not configured for the name, so it does not get it.
        assert!(sp["attributes"].get(FULL_NAME).is_none(), "{sp:#}");
    }

    /// SS-4: a POST-binding request (cross-site, without Portner's Lax cookie) still finds the
    /// session; AC-1: the requested minimum level is met.
    fn post_login(&self) {
        let first = &self.flow("redirect")["sp"];
        let flow = self.signed_in("post");
        assert_eq!(flow["password_page"], false, "{flow:#}");
        let sp = &flow["sp"];
        assert_eq!(sp["name_id"], first["name_id"], "{sp:#}");
        assert_eq!(sp["attributes"][LOA], serde_json::json!(["Substantial"]));
    }

    /// AC-6: ForceAuthn asks for password and key again inside a live session, and the
    /// AuthnInstant moves on (RS-8).
    fn forced_sign_in(&self) {
        let first = &self.flow("sso")["sp"];
        let flow = self.signed_in("force");
        assert_eq!(flow["password_page"], true, "{flow:#}");
        let sp = &flow["sp"];
        assert_eq!(sp["name_id"], first["name_id"], "{sp:#}");
        let instant = |sp: &Value| sp["authn"][0]["instant"].as_str().unwrap().to_owned();
        assert!(instant(sp) > instant(first), "{sp:#}");
    }

    /// AC-7, RS-11: IsPassive without a session is answered with a signed `NoPassive` error
    /// Response to the verified ACS, which pysaml2 accepts as such, and no page is shown.
    fn passive_without_session(&self) {
        let flow = self.flow("passive");
        assert_eq!(flow["status"], 400, "{flow:#}");
        assert_eq!(flow["password_page"], false, "{flow:#}");
        let error = &flow["sp"];
        assert!(
            error["error"].as_str().unwrap().contains("NoPassive"),
            "{error:#}"
        );
    }

    /// SL-1: logout started at A ends Portner's session and gets a signed LogoutResponse
    /// (checked by A over the raw query); the next login asks for the password again.
    /// SL-2, SL-3: B must have been told (it checks the signed LogoutRequest and answers).
    /// B offers only an HTTP-POST logout endpoint: Portner posts it the LogoutRequest with an
    /// enveloped signature, which pysaml2 verifies through xmlsec1, and B posts its signed
    /// answer back, which Portner verifies before it answers A over Redirect.
    fn single_logout(&self) {
        let flow = self.flow("slo");
        assert_eq!(flow["url"], format!("{}/slo", self.sp_a), "{flow:#}");
        let hops: Vec<&str> = flow["hops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let told_by_post = format!("POST {}/slo", self.sp_b);
        let answered_by_post = format!("POST {}/saml/slo", self.idp_url);
        let answered_a = format!("GET {}/slo", self.sp_a);
        let order: Vec<Option<usize>> = [&told_by_post, &answered_by_post, &answered_a]
            .iter()
            .map(|hop| hops.iter().position(|seen| seen == hop))
            .collect();
        assert!(
            order.iter().all(Option::is_some) && order.is_sorted(),
            "{flow:#}"
        );
        let answer = &flow["sp"];
        assert_eq!(answer["logout"], "success", "{flow:#}");
        assert_eq!(answer["issuer"], self.idp_url, "{flow:#}");
        assert_eq!(answer["subject_still_cached"], false, "{flow:#}");

        let sessions = self.flow("sessions");
        assert_eq!(sessions["a"]["signed_in"], false, "{sessions:#}");
        // SL-2: Portner passed the logout on to B, which checked the signed LogoutRequest,
        // ended its own session and confirmed; so A hears plain Success.
        assert_eq!(answer["second_level_status"], Value::Null, "{flow:#}");
        assert_eq!(sessions["b"]["signed_in"], false, "{sessions:#}");
        let b_name_id = &self.flow("sso")["sp"]["name_id"]["value"];
        let passed_on = sessions["b"]["logged_out_by_idp"].as_array().unwrap();
        assert!(passed_on.contains(b_name_id), "{sessions:#}");

        let after = self.flow("after_slo");
        assert_eq!(after["password_page"], true, "{after:#}");
    }

    /// Checks what every successful login shares: the SP accepted the Response from Portner,
    /// and the RelayState came back byte for byte (A5, RS-13).
    fn signed_in(&self, name: &str) -> &Value {
        let flow = self.flow(name);
        assert_eq!(flow["status"], 200, "{name}: {flow:#}");
        let sp = &flow["sp"];
        assert_eq!(sp["result"], "signed in", "{name}: {sp:#}");
        assert_eq!(sp["issuer"], self.idp_url, "{name}: {sp:#}");
        assert_eq!(
            sp["relay_state"], self.report["relay_states"][name],
            "{name}"
        );
        let answered_at = self.answered_at(flow);
        let answering =
            ["/saml/sso", "/saml/continue"].map(|path| format!("{}{path}", self.idp_url));
        assert!(answering.contains(&answered_at), "{name}: {flow:#}");
        flow
    }

    /// The Portner page the browser left for the SP's ACS: where the Response came from.
    fn answered_at(&self, flow: &Value) -> String {
        let navigations = flow["navigations"].as_array().unwrap();
        navigations
            .iter()
            .filter_map(Value::as_str)
            .rfind(|url| url.starts_with(self.idp_url))
            .unwrap()
            .to_owned()
    }
}
