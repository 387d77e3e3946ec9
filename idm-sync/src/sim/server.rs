//! The simulator's HTTPS front (mitid-erhverv-idm-api.md §9.1, §9.4, §9.5).
//!
//! SIMULATION of observed behaviour, not the real service. TLS is terminated here with OpenSSL:
//! a client certificate chaining to the test CA is required on every connection, and its
//! `O=NTRDK-<cvr>` names the organisation A1 issues tokens for. A plain-HTTP mode (unit tests)
//! takes the organisation from the `x-sim-organisation` header instead. Fault rules are
//! evaluated before routing so that a reset can drop the connection without any response.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVerifyMode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::certs::{CertError, Issued, TestCa, organisation_of, write_folder};
use super::faults::{FaultKind, FaultRule, pick, production_like};
use super::state::{SimEmployee, SimOrganisation, SimState, lower_keys};
use crate::api::paths;

/// Request bodies above this size are refused (the contract's largest request is E1).
const MAX_BODY: usize = 256 * 1024;

/// Header naming the organisation in plain-HTTP mode.
pub const PLAIN_ORG_HEADER: &str = "x-sim-organisation";

/// How to start the simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Seed for fault injection and tokens.
    pub seed: u64,
    /// Token lifetime in seconds (default 3600).
    pub token_lifetime_s: i64,
    /// Plain HTTP with the organisation header instead of mTLS (unit tests only).
    pub plain_http: bool,
    /// Where to write the generated certificates, if anywhere.
    pub cert_folder: Option<PathBuf>,
    /// Organisations to create at start, each with a client certificate.
    pub organisations: Vec<SimOrganisation>,
    /// Keep a call log (off for benchmarks, where it would only grow).
    pub call_log: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 1,
            token_lifetime_s: 3600,
            plain_http: false,
            cert_folder: None,
            organisations: Vec::new(),
            call_log: true,
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Certificates.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// TLS setup.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] openssl::error::ErrorStack),
    /// Binding the socket.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A running simulator: its address, test PKI, and the Rust control surface (§9.4).
#[derive(Debug)]
pub struct Simulator {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The test CA (trust root for the client, issuer of client certificates).
    pub ca: TestCa,
    /// Client certificates by CVR.
    pub clients: Vec<(String, Issued)>,
    state: Arc<Mutex<SimState>>,
    stop: watch::Sender<bool>,
}

impl Simulator {
    /// Generates the PKI, binds the socket and starts serving.
    ///
    /// # Errors
    ///
    /// Certificates, TLS setup or the socket failed.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        let ca = TestCa::generate("Portner MitID Erhverv simulator test CA")?;
        let server_cert = ca.server()?;
        let mut clients = Vec::new();
        for org in &config.organisations {
            clients.push((org.cvr.clone(), ca.client(&org.cvr)?));
        }
        if let Some(folder) = &config.cert_folder {
            write_folder(folder, &ca, &server_cert, &clients)?;
        }

        let mut state = SimState::new(config.seed);
        state.token_lifetime_s = config.token_lifetime_s;
        state.keep_call_log = config.call_log;
        for org in config.organisations.clone() {
            state.seed_organisation(org);
        }
        let state = Arc::new(Mutex::new(state));

        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let acceptor = if config.plain_http {
            None
        } else {
            Some(Arc::new(acceptor(&ca, &server_cert)?))
        };
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&state), stopped));
        Ok(Self {
            addr,
            ca,
            clients,
            state,
            stop,
        })
    }

    /// The base URL clients use.
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// The client certificate of `cvr`.
    pub fn client_cert(&self, cvr: &str) -> Option<&Issued> {
        self.clients
            .iter()
            .find_map(|(owner, cert)| (owner == cvr).then_some(cert))
    }

    /// Locks the state for direct inspection or out-of-band changes (§9.4).
    pub fn state(&self) -> MutexGuard<'_, SimState> {
        lock(&self.state)
    }

    /// Installs fault rules, replacing the previous ones.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.state().faults = rules;
    }

    /// Stops accepting connections.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Recovers the state from a poisoned lock: one panicking request must not take the whole
/// simulator down, and the state is plain data that stays consistent per call.
fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn acceptor(ca: &TestCa, server: &Issued) -> Result<SslAcceptor, SimError> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder.set_private_key(&server.key)?;
    builder.set_certificate(&server.cert)?;
    let mut store = openssl::x509::store::X509StoreBuilder::new()?;
    store.add_cert(ca.root.cert.clone())?;
    builder.set_verify_cert_store(store.build())?;
    builder.add_client_ca(&ca.root.cert)?;
    // §9.1: client certificate required on every route.
    builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    Ok(builder.build())
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<Arc<SslAcceptor>>,
    state: Arc<Mutex<SimState>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((socket, _peer)) = accepted else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        let state = Arc::clone(&state);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => serve_tls(socket, &acceptor, state).await,
                None => serve(TokioIo::new(socket), None, state).await,
            }
        });
    }
}

async fn serve_tls(
    socket: tokio::net::TcpStream,
    acceptor: &SslAcceptor,
    state: Arc<Mutex<SimState>>,
) {
    let Ok(ssl) = Ssl::new(acceptor.context()) else {
        return;
    };
    let Ok(mut stream) = tokio_openssl::SslStream::new(ssl, socket) else {
        return;
    };
    if std::pin::Pin::new(&mut stream).accept().await.is_err() {
        return;
    }
    let org = stream
        .ssl()
        .peer_certificate()
        .as_deref()
        .and_then(organisation_of);
    serve(TokioIo::new(stream), Some(org), state).await;
}

/// `tls_org`: `None` in plain mode; `Some(cvr or None)` with TLS.
async fn serve<IO>(io: TokioIo<IO>, tls_org: Option<Option<String>>, state: Arc<Mutex<SimState>>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let state = Arc::clone(&state);
        let tls_org = tls_org.clone();
        async move { respond(request, tls_org, &state).await }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await;
}

/// The error a service returns to make hyper drop the connection (fault `reset`).
#[derive(Debug, thiserror::Error)]
#[error("simulated connection reset")]
struct SimulatedReset;

async fn respond(
    request: Request<Incoming>,
    tls_org: Option<Option<String>>,
    state: &Mutex<SimState>,
) -> Result<Response<Full<Bytes>>, SimulatedReset> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let org = match tls_org {
        Some(from_cert) => from_cert,
        None => header(&request, PLAIN_ORG_HEADER),
    };
    let bearer = header(&request, "authorization")
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_owned));
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(plain(413, "request body too large")),
    };

    if let Some(control) = path.strip_prefix("/_sim/") {
        return Ok(control_route(state, &method, control, &body));
    }

    let fault = {
        let mut guard = lock(state);
        let guard = &mut *guard;
        pick(&mut guard.faults, &mut guard.rng, &method, &path)
    };
    let mut shrink = false;
    match fault {
        Some(FaultKind::Reset) => {
            lock(state).log_call(&method, &path, 0, &body);
            return Err(SimulatedReset);
        }
        Some(FaultKind::Timeout) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Err(SimulatedReset);
        }
        Some(FaultKind::Latency { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        Some(FaultKind::Unavailable) => {
            return Ok(logged(
                state,
                &method,
                &path,
                &body,
                plain(503, "ServiceUnavailable"),
            ));
        }
        Some(FaultKind::ServerError) => {
            let reply = plain(500, "See log for exception details");
            return Ok(logged(state, &method, &path, &body, reply));
        }
        Some(FaultKind::RateLimit { retry_after }) => {
            let mut reply = plain(429, "Too many requests");
            if let Ok(value) = retry_after.to_string().parse() {
                reply.headers_mut().insert("retry-after", value);
            }
            return Ok(logged(state, &method, &path, &body, reply));
        }
        Some(FaultKind::TokenExpiry) => lock(state).expire_tokens(),
        Some(FaultKind::BadJson) => {
            return Ok(logged(
                state,
                &method,
                &path,
                &body,
                plain(200, "{\"employ"),
            ));
        }
        Some(FaultKind::ShrinkSearch) => shrink = true,
        None => {}
    }

    let reply = api_call(
        state,
        org.as_deref(),
        bearer.as_deref(),
        &method,
        &path,
        &body,
        shrink,
    );
    Ok(logged(state, &method, &path, &body, reply))
}

fn api_call(
    state: &Mutex<SimState>,
    org: Option<&str>,
    bearer: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
    shrink: bool,
) -> Response<Full<Bytes>> {
    let mut guard = lock(state);
    if path == paths::AUTHENTICATE {
        let Some(org) = org else {
            return plain(401, "no valid client certificate");
        };
        return to_response(guard.issue_token(org));
    }
    let token_org = bearer.and_then(|token| guard.token_org(token));
    let authorised = match (token_org.as_deref(), org) {
        (Some(from_token), Some(from_cert)) => from_token == from_cert,
        (Some(_), None) => false,
        (None, _) => false,
    };
    let Some(cvr) = token_org.filter(|_| authorised) else {
        return plain(401, "Unauthorized");
    };
    if shrink && path == paths::SEARCH {
        return to_response(super::state::Reply {
            status: 200,
            body: Some(json!({ "employees": [] })),
        });
    }
    let parsed = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice::<Value>(body)
    };
    match parsed {
        Ok(value) => to_response(guard.handle(&cvr, method, path, &lower_keys(value))),
        Err(_) => plain(400, "request body is not JSON"),
    }
}

fn logged(
    state: &Mutex<SimState>,
    method: &str,
    path: &str,
    body: &[u8],
    reply: Response<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    lock(state).log_call(method, path, reply.status().as_u16(), body);
    reply
}

fn header(request: &Request<Incoming>, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn plain(status: u16, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    response
}

fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut response = plain(status, &body.to_string());
    if let Ok(value) = "application/json".parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

fn to_response(reply: super::state::Reply) -> Response<Full<Bytes>> {
    match reply.body {
        Some(body) => json_response(reply.status, &body),
        None => plain(reply.status, ""),
    }
}

/// The HTTP mirror of the control surface (§9.4), for the simulator run as a process.
fn control_route(
    state: &Mutex<SimState>,
    method: &str,
    route: &str,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut guard = lock(state);
    let segments: Vec<&str> = route.split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["reset"]) => {
            let seed = parsed["seed"].as_u64().unwrap_or(1);
            let orgs = std::mem::take(&mut guard.orgs);
            let lifetime = guard.token_lifetime_s;
            *guard = SimState::new(seed);
            guard.token_lifetime_s = lifetime;
            for org in orgs.into_values() {
                guard.seed_organisation(org);
            }
            json_response(200, &json!({ "reset": true }))
        }
        ("GET", ["employees", cvr]) => json_response(200, &json!(guard.employees_of(cvr))),
        ("POST", ["employees", cvr]) => match serde_json::from_value::<SimEmployee>(parsed) {
            Ok(employee) => {
                let uuid = guard.seed_employee(cvr, employee);
                json_response(200, &json!({ "uuid": uuid }))
            }
            Err(error) => plain(400, &error.to_string()),
        },
        ("POST", ["oob", cvr, uuid, action]) => {
            let done = match *action {
                "delete" => guard.delete_out_of_band(cvr, uuid),
                "suspend" | "reactivate" | "email" | "local-id" => {
                    guard.employee_mut(cvr, uuid).is_some_and(|employee| {
                        out_of_band(employee, action, &parsed);
                        true
                    })
                }
                _ => false,
            };
            json_response(if done { 200 } else { 404 }, &json!({ "done": done }))
        }
        ("POST", ["clock"]) => {
            guard.clock_offset_ms = parsed["offsetMs"].as_i64().unwrap_or(0);
            json_response(200, &json!({ "offsetMs": guard.clock_offset_ms }))
        }
        ("POST", ["faults"]) => match serde_json::from_value::<Vec<FaultRule>>(parsed) {
            Ok(rules) => {
                guard.faults = rules;
                json_response(200, &json!({ "rules": guard.faults.len() }))
            }
            Err(error) => plain(400, &error.to_string()),
        },
        ("POST", ["faults", "production-like"]) => {
            guard.faults = production_like();
            json_response(200, &json!({ "rules": guard.faults.len() }))
        }
        ("POST", ["extra-fields"]) => {
            guard.extra_fields = parsed["on"].as_bool().unwrap_or(true);
            json_response(200, &json!({ "extraFields": guard.extra_fields }))
        }
        ("GET", ["calls"]) => json_response(200, &json!(guard.calls)),
        _ => plain(404, "no such control route"),
    }
}

fn out_of_band(employee: &mut SimEmployee, action: &str, body: &Value) {
    match action {
        "suspend" => employee.status = "Suspended".to_owned(),
        "reactivate" => employee.status = "Active".to_owned(),
        "email" => {
            if let Some(email) = body["email"].as_str() {
                employee.email = email.to_owned();
            }
        }
        _ => {
            let id = body["id"].as_str().map(str::to_owned);
            if let Some(auth) = employee
                .authenticators
                .iter_mut()
                .find(|auth| auth.kind == "LocalIdentityProvider")
            {
                auth.id = id;
            }
        }
    }
}
