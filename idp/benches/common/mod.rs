//! What the HTTP benchmarks share: a minimal HTTP/1.1 client with a cookie jar, and
//! activation and sign-in through the real pages with a soft passkey.

// Benchmark harness code: a failed step should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::net::SocketAddr;

use portner_audit::AuditContext;
use portner_idp::signin::activation::{Proofing, issue_code};
use portner_shared::Clock;
use portner_shared::domain::{Cvr, Email, NewUser, NsisLevel, ProofingMethod, Username};
use portner_shared::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

/// The password every benchmark user gets.
pub const PASSWORD: &str = "violet tram lantern 1987";

/// Creates user `name` in organisation `cvr`, issues an activation code at Substantial and
/// activates the account through the pages; returns the key and the signed-in client.
pub async fn activated_user(
    store: &Store,
    clock: &dyn Clock,
    address: SocketAddr,
    origin: &str,
    cvr: &Cvr,
    name: &str,
) -> (SoftPasskey, Client) {
    let context = AuditContext::cli();
    let username: Username = name.parse().unwrap();
    let email: Email = format!("{name}@testfirma.dk").parse().unwrap();
    let new = NewUser::new(cvr.clone(), username.clone(), "Bench User", email, None).unwrap();
    portner_idp::directory::create_user(store, clock, &context, &new)
        .await
        .unwrap();
    let proofing = Proofing {
        method: ProofingMethod::InPerson,
        reference: "benchmark".to_owned(),
        level: NsisLevel::Substantial,
    };
    let code = issue_code(store, clock, &context, &username, Some(&proofing), 72)
        .await
        .unwrap();
    activate(address, origin, name, &code.code).await
}

/// Activates a user through `/activate` with a new soft passkey; returns the key and the
/// client, whose cookie jar now holds a session at the activation's level.
pub async fn activate(
    address: SocketAddr,
    origin: &str,
    username: &str,
    code: &str,
) -> (SoftPasskey, Client) {
    let mut client = Client::new(address);
    let form = client.request("GET", "/activate", &[]).await;
    let token = field(&form.body, "csrf");
    let fields = [
        ("csrf", token.as_str()),
        ("username", username),
        ("code", code),
    ];
    let fields = [&fields[..], &[("new_password", PASSWORD)]].concat();
    let step = client.request("POST", "/activate", &fields).await;
    let options: CreationChallengeResponse = serde_json::from_str(&options(&step.body)).unwrap();
    let mut key = SoftPasskey::new(true);
    let response = key
        .do_registration(Url::parse(origin).unwrap(), options)
        .unwrap();
    let response = serde_json::to_string(&response).unwrap();
    let handle = field(&step.body, "ceremony");
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", &handle),
        ("credential", &response),
    ];
    let done = client.request("POST", "/activate/webauthn", &fields).await;
    assert_eq!(done.status, 303, "activation failed: {}", done.body);
    (key, client)
}

/// Signs in with password and key through `/login`.
pub async fn login(address: SocketAddr, origin: &str, username: &str, key: &mut SoftPasskey) {
    let mut client = Client::new(address);
    let form = client.request("GET", "/login", &[]).await;
    let token = field(&form.body, "csrf");
    let fields = [
        ("csrf", token.as_str()),
        ("username", username),
        ("password", PASSWORD),
    ];
    let step = client.request("POST", "/login", &fields).await;
    assert_eq!(step.status, 200, "password step failed: {}", step.body);
    let options: RequestChallengeResponse = serde_json::from_str(&options(&step.body)).unwrap();
    let response = key
        .do_authentication(Url::parse(origin).unwrap(), options)
        .unwrap();
    let response = serde_json::to_string(&response).unwrap();
    let handle = field(&step.body, "ceremony");
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", &handle),
        ("credential", &response),
    ];
    let done = client.request("POST", "/login/webauthn", &fields).await;
    assert_eq!(done.status, 303, "WebAuthn step failed: {}", done.body);
}

/// The value of the hidden field `name` in a page.
pub fn field(body: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = body.find(&marker).unwrap() + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

/// The WebAuthn options block of a page.
pub fn options(body: &str) -> String {
    let start = body.find(r#"id="webauthn-options""#).unwrap();
    let rest = &body[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</script>").unwrap();
    rest[open..close].to_owned()
}

/// A minimal HTTP/1.1 client with a cookie jar: one connection per request, which is what a
/// browser's first visit costs too.
pub struct Client {
    address: SocketAddr,
    cookies: Vec<(String, String)>,
}

/// A response: status, `Location`, body.
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Client {
    /// The `Cookie` header value the jar would send.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A client with an empty cookie jar.
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            cookies: Vec::new(),
        }
    }

    /// Sends one request with the jar's cookies and keeps those set.
    pub async fn request(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let cookie = self.cookie_header();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut stream = TcpStream::connect(self.address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        for line in head
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("set-cookie:"))
        {
            let pair = line[11..].trim().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(existing, _)| existing != name);
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
        let location = head
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with("location:"))
            .map(|line| line[9..].trim().to_owned());
        Reply {
            status,
            location,
            body: body.to_owned(),
        }
    }
}
