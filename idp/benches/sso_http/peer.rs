//! The peer side of the SSO benchmark: signed-in single sign-on against SimpleSAMLphp 1.19,
//! set up on the loopback interface by `bench/simplesamlphp/setup.sh` (performance.md §4).
//!
//! It replaces the recipe's wrk script (§4.6 step 13) so that the benchmark drives Portner and
//! the peer from one command: it signs in two sessions per client, then each client sends GET
//! requests for the SSO URL over one keep-alive connection, alternating its sessions' cookies,
//! until the time is up. A response counts when it is a 200 that carries `SAMLResponse`;
//! anything else, including an I/O error, is a failure. The server's CPU time comes from
//! `/proc/<pid>/stat` of every `apache2` process before and after the run (§4.6 step 15).
//!
//! The HTTP/1.1 client is a small one over `std::net`: the peer is plain HTTP on loopback, and
//! the crate's dependencies have no blocking client with cookies. It understands exactly what
//! Apache sends (Content-Length or chunked bodies, keep-alive, redirects on the same host),
//! and caps what it reads.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use url::Url;
use url::form_urlencoded;

/// The entity ID of the test SP in the peer's `saml20-sp-remote.php` (§4.3 step 8).
const SP_ENTITY_ID: &str = "urn:test:sp";

/// The peer's test user and password, written by `bench/simplesamlphp/setup.sh` (§4.3 step 6).
/// A fixed value is fine: the peer only listens on 127.0.0.1.
const USERNAME: &str = "alice";
const PASSWORD: &str = "peer-bench-password";

/// Sessions per client. With each client on its own sessions, PHP's per-session file lock
/// never makes two clients wait for each other, and the rotation still changes the cookie on
/// every request, as the recipe's wrk script does.
const SESSIONS_PER_CLIENT: usize = 2;

const MAX_HEADER_BYTES: u64 = 64 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 10;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What one run against the peer measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerResult {
    /// Responses with a `SAMLResponse` per second of wall-clock time.
    pub responses_per_second: f64,
    /// Median latency of all completed requests, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency of all completed requests, in milliseconds.
    pub p99_ms: f64,
    /// Apache's CPU milliseconds (user and system) per counted response; `None` when no
    /// `apache2` process is visible in `/proc` (a peer on another machine or in a container).
    pub cpu_ms_per_response: Option<f64>,
    /// Requests that ended in an error, a status other than 200, or a page without a response.
    pub failures: u64,
}

/// Signs in `2 × concurrency` sessions at the SimpleSAMLphp peer whose base URL is `base_url`
/// (e.g. `http://127.0.0.1:8080/simplesamlphp`), then measures signed-in SSO with
/// `concurrency` clients for `duration`.
///
/// Fails when the URL is not plain HTTP, when a sign-in fails (the peer is not set up), or
/// when no request completed.
pub fn measure_simplesamlphp(
    base_url: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<PeerResult, String> {
    let peer = Peer::parse(base_url)?;
    let concurrency = concurrency.max(1);
    let sessions = sign_in_clients(&peer, concurrency)?;

    let ticks_before = apache_cpu_ticks();
    let started = Instant::now();
    let deadline = started + duration;
    let outcomes = run_clients(&peer, &sessions, deadline)?;
    let elapsed = started.elapsed();
    let ticks_after = apache_cpu_ticks();

    summarise(&outcomes, elapsed, ticks_before.zip(ticks_after))
}

/// Where the peer is: the `host:port` to connect to and the path SimpleSAMLphp is served under.
#[derive(Debug)]
struct Peer {
    authority: String,
    base_path: String,
}

impl Peer {
    fn parse(base_url: &str) -> Result<Self, String> {
        let url = Url::parse(base_url).map_err(|e| format!("peer URL {base_url}: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "peer URL {base_url}: only plain http on loopback is supported"
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("peer URL {base_url}: no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);

        Ok(Self {
            authority: format!("{host}:{port}"),
            base_path: url.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The IdP-initiated SSO URL for the test SP (§4.5 step 12).
    fn sso_target(&self) -> String {
        let sp: String = form_urlencoded::byte_serialize(SP_ENTITY_ID.as_bytes()).collect();
        format!(
            "{}/saml2/idp/SSOService.php?spentityid={sp}",
            self.base_path
        )
    }
}

/// Signs in every client's sessions, the clients in parallel: each sign-in is an Argon2id
/// verification of some 30-60 ms on the peer.
fn sign_in_clients(peer: &Peer, clients: usize) -> Result<Vec<Vec<String>>, String> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    (0..SESSIONS_PER_CLIENT)
                        .map(|_| sign_in(peer))
                        .collect::<Result<Vec<String>, String>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| "a sign-in thread panicked".to_owned())?
            })
            .collect()
    })
}

/// One full sign-in with a fresh cookie jar (§4.5 step 12); returns the session's `Cookie`
/// header value.
fn sign_in(peer: &Peer) -> Result<String, String> {
    let mut client = Client::new(peer);

    let (form_page, form_target) = client.follow("GET", peer.sso_target(), None)?;
    let auth_state = hidden_input(&form_page.body, "AuthState").ok_or_else(|| {
        format!(
            "no AuthState on the sign-in page (status {})",
            form_page.status
        )
    })?;

    // The form posts to its own URL; the state travels in the body, not the query string.
    let post_target = form_target.split('?').next().unwrap_or_default().to_owned();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", USERNAME)
        .append_pair("password", PASSWORD)
        .append_pair("AuthState", &auth_state)
        .finish();
    let (done, _) = client.follow("POST", post_target, Some(form))?;

    if !carries_saml_response(&done) {
        return Err(format!(
            "sign-in at the peer gave no SAMLResponse (status {})",
            done.status
        ));
    }
    Ok(client.cookie_header())
}

/// Counts and latencies of one client.
#[derive(Debug, Default)]
struct ClientOutcome {
    responses: u64,
    failures: u64,
    latencies: Vec<Duration>,
}

fn run_clients(
    peer: &Peer,
    sessions: &[Vec<String>],
    deadline: Instant,
) -> Result<Vec<ClientOutcome>, String> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .iter()
            .map(|cookies| scope.spawn(move || run_client(peer, cookies, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| "a client thread panicked".to_owned())
            })
            .collect()
    })
}

/// Sends signed-in SSO requests until the deadline, taking the next session's cookies each
/// time (§4.6 step 13).
fn run_client(peer: &Peer, cookies: &[String], deadline: Instant) -> ClientOutcome {
    let mut connection = Connection::default();
    let mut outcome = ClientOutcome::default();
    let target = peer.sso_target();

    for cookie in cookies.iter().cycle() {
        let begun = Instant::now();
        if begun >= deadline {
            break;
        }
        let request = request_bytes("GET", &target, &peer.authority, cookie, None);
        let answer = connection.exchange(&peer.authority, &request);
        outcome.latencies.push(begun.elapsed());

        match answer {
            Ok(response) if carries_saml_response(&response) => outcome.responses += 1,
            _ => outcome.failures += 1,
        }
    }
    outcome
}

fn summarise(
    outcomes: &[ClientOutcome],
    elapsed: Duration,
    ticks: Option<(u64, u64)>,
) -> Result<PeerResult, String> {
    let responses: u64 = outcomes.iter().map(|o| o.responses).sum();
    let failures: u64 = outcomes.iter().map(|o| o.failures).sum();
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .flat_map(|o| o.latencies.iter().copied())
        .collect();
    if latencies.is_empty() {
        return Err("no request to the peer completed".to_owned());
    }
    latencies.sort_unstable();

    let cpu_ms_per_response = match (ticks, clock_ticks_per_second()) {
        (Some((before, after)), Some(hz)) if responses > 0 => {
            let cpu_ms = after.saturating_sub(before) as f64 * 1000.0 / hz as f64;
            Some(cpu_ms / responses as f64)
        }
        _ => None,
    };

    Ok(PeerResult {
        responses_per_second: responses as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        cpu_ms_per_response,
        failures,
    })
}

/// Nearest-rank percentile of sorted, non-empty latencies.
fn percentile_ms(sorted: &[Duration], fraction: f64) -> f64 {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The sum of user and system CPU clock ticks over every process named `apache2` (§4.6 step
/// 15). A worker that exits during a run takes its ticks with it; setup.sh's fixed prefork
/// pool (§4.4 step 10) keeps the workers alive. `None` when there is no such process.
fn apache_cpu_ticks() -> Option<u64> {
    let mut total = 0;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = entry.path();
        let is_apache = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|name| name.trim_end() == "apache2");
        if !is_apache {
            continue;
        }
        // The process may have exited since the directory was listed.
        if let Some(ticks) = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|s| process_ticks(&s))
        {
            total += ticks;
            found = true;
        }
    }
    found.then_some(total)
}

/// Fields 14 and 15 (`utime`, `stime`) of a `/proc/<pid>/stat` line. The name in field 2 may
/// hold spaces and parentheses, so counting starts after its last `)`, at field 3.
fn process_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `getconf CLK_TCK`: the unit of the `/proc` CPU times (100 on Debian).
fn clock_ticks_per_second() -> Option<u64> {
    let output = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()?;
    String::from_utf8(output.stdout)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&hz| hz > 0)
}

fn carries_saml_response(response: &Response) -> bool {
    response.status == 200 && contains(&response.body, b"SAMLResponse")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The `value` of the `<input>` whose `name` is `name`, with SimpleSAMLphp's HTML escaping
/// (`htmlspecialchars`) undone.
fn hidden_input(page: &[u8], name: &str) -> Option<String> {
    let page = String::from_utf8_lossy(page);
    let wanted = format!("name=\"{name}\"");
    page.split("<input").skip(1).find_map(|rest| {
        let tag = &rest[..rest.find('>')?];
        if !tag.contains(&wanted) {
            return None;
        }
        let value = &tag[tag.find("value=\"")? + "value=\"".len()..];
        let value = &value[..value.find('"')?];
        Some(
            value
                .replace("&quot;", "\"")
                .replace("&#039;", "'")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    })
}

/// A cookie jar and a keep-alive connection for the sign-in flow.
#[derive(Debug)]
struct Client<'a> {
    peer: &'a Peer,
    connection: Connection,
    cookies: BTreeMap<String, String>,
}

impl<'a> Client<'a> {
    fn new(peer: &'a Peer) -> Self {
        Self {
            peer,
            connection: Connection::default(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join("; ")
    }

    /// Sends the request and follows redirects on the same host, keeping cookies. Every
    /// redirect is followed with a GET, which is what SimpleSAMLphp's 302 and 303 ask for.
    /// Returns the final response and its request target.
    fn follow(
        &mut self,
        method: &str,
        mut target: String,
        mut body: Option<String>,
    ) -> Result<(Response, String), String> {
        let mut method = method;
        for _ in 0..=MAX_REDIRECTS {
            let request = request_bytes(
                method,
                &target,
                &self.peer.authority,
                &self.cookie_header(),
                body.as_deref(),
            );
            let response = self.connection.exchange(&self.peer.authority, &request)?;
            self.remember_cookies(&response);

            let Some(location) = response
                .header("location")
                .filter(|_| response.is_redirect())
            else {
                return Ok((response, target));
            };
            target = self.redirect_target(&target, location)?;
            method = "GET";
            body = None;
        }
        Err(format!("more than {MAX_REDIRECTS} redirects at the peer"))
    }

    fn redirect_target(&self, current: &str, location: &str) -> Result<String, String> {
        let here = format!("http://{}{current}", self.peer.authority);
        let next = Url::parse(&here)
            .and_then(|base| base.join(location))
            .map_err(|e| format!("redirect to {location}: {e}"))?;
        let authority = format!(
            "{}:{}",
            next.host_str().unwrap_or_default(),
            next.port_or_known_default().unwrap_or(80)
        );
        if next.scheme() != "http" || authority != self.peer.authority {
            return Err(format!("the peer redirected off the peer to {location}"));
        }
        Ok(match next.query() {
            Some(query) => format!("{}?{query}", next.path()),
            None => next.path().to_owned(),
        })
    }

    /// Keeps each `Set-Cookie`'s name and value; a cookie the server deletes is dropped.
    fn remember_cookies(&mut self, response: &Response) {
        for (name, value) in &response.headers {
            if name != "set-cookie" {
                continue;
            }
            let mut parts = value.split(';');
            let Some((cookie, content)) = parts.next().and_then(|pair| pair.split_once('=')) else {
                continue;
            };
            let deleted = content == "deleted"
                || parts.any(|attribute| attribute.trim().eq_ignore_ascii_case("max-age=0"));
            if deleted {
                self.cookies.remove(cookie.trim());
            } else {
                self.cookies
                    .insert(cookie.trim().to_owned(), content.trim().to_owned());
            }
        }
    }
}

fn request_bytes(
    method: &str,
    target: &str,
    authority: &str,
    cookie: &str,
    body: Option<&str>,
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\n");
    if !cookie.is_empty() {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if let Some(body) = body {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    head.into_bytes()
}

/// A parsed HTTP response; header names in lower case.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// Whether the server closes the connection after this response.
    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// One keep-alive connection, opened on first use and again after the server closed it
/// (Apache does after `MaxKeepAliveRequests` or an idle `KeepAliveTimeout`).
#[derive(Debug, Default)]
struct Connection {
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    fn exchange(&mut self, authority: &str, request: &[u8]) -> Result<Response, String> {
        let reused = self.stream.is_some();
        match self.try_exchange(authority, request) {
            // A kept-alive connection the server closed meanwhile fails on first use: retry
            // once on a fresh one.
            Err(_) if reused => self.try_exchange(authority, request),
            result => result,
        }
    }

    fn try_exchange(&mut self, authority: &str, request: &[u8]) -> Result<Response, String> {
        let result = self.send_and_read(authority, request);
        match &result {
            Ok(response) if !response.closes() => {}
            _ => self.stream = None,
        }
        result
    }

    fn send_and_read(&mut self, authority: &str, request: &[u8]) -> Result<Response, String> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => self.stream.insert(BufReader::new(open(authority)?)),
        };
        stream
            .get_mut()
            .write_all(request)
            .map_err(|e| format!("send: {e}"))?;
        read_response(stream)
    }
}

fn open(authority: &str) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(authority).map_err(|e| format!("connect {authority}: {e}"))?;
    let configured = stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)));
    configured.map_err(|e| format!("socket options: {e}"))?;
    Ok(stream)
}

fn read_response(reader: &mut BufReader<TcpStream>) -> Result<Response, String> {
    let mut header_budget = MAX_HEADER_BYTES;
    let status_line = read_line(reader, &mut header_budget)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;

    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut header_budget)?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }

    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    response.body = read_body(reader, &response)?;
    Ok(response)
}

fn read_body(reader: &mut BufReader<TcpStream>, response: &Response) -> Result<Vec<u8>, String> {
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    let Some(length) = response.header("content-length") else {
        // Neither length nor chunks: the body ends when the server closes the connection.
        let mut body = Vec::new();
        reader
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("read body: {e}"))?;
        return capped(body);
    };
    let length: usize = length
        .parse()
        .map_err(|_| format!("bad Content-Length {length:?}"))?;
    if length > MAX_BODY_BYTES {
        return Err(format!("body of {length} bytes exceeds the cap"));
    }
    let mut body = vec![0; length];
    reader
        .read_exact(&mut body)
        .map_err(|e| format!("read body: {e}"))?;
    Ok(body)
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut line_budget = MAX_HEADER_BYTES;
    loop {
        let size_line = read_line(reader, &mut line_budget)?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_line:?}"))?;
        if size == 0 {
            // Trailer fields, if any, end with an empty line.
            while !read_line(reader, &mut line_budget)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err("chunked body exceeds the cap".to_owned());
        }
        let start = body.len();
        body.resize(start + size, 0);
        let chunk = body.get_mut(start..).unwrap_or_default();
        reader
            .read_exact(chunk)
            .map_err(|e| format!("read chunk: {e}"))?;
        read_line(reader, &mut line_budget)?;
    }
}

fn capped(body: Vec<u8>) -> Result<Vec<u8>, String> {
    if body.len() > MAX_BODY_BYTES {
        return Err("body exceeds the cap".to_owned());
    }
    Ok(body)
}

/// One CRLF-terminated line without its terminator, counted against `budget`.
fn read_line(reader: &mut BufReader<TcpStream>, budget: &mut u64) -> Result<String, String> {
    let mut line = String::new();
    let read = reader
        .take(*budget)
        .read_line(&mut line)
        .map_err(|e| format!("read: {e}"))?;
    if read == 0 {
        return Err("the peer closed the connection".to_owned());
    }
    if !line.ends_with('\n') {
        return Err("header line exceeds the cap".to_owned());
    }
    *budget -= read as u64;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
