//! The MitID Erhverv IdM API client (mitid-erhverv-idm-api.md §1, §2, §3, §5).
//!
//! One typed async method per endpoint (A1, E1-E10, C1-C3, M1-M2, R1-R6). Transport is mutual
//! TLS with the organisation's system certificate; the server is trusted only through the
//! configured roots with normal host-name checks (§1 "Server trust": the public clients trust
//! anything, Portner must not). The bearer token is cached and refreshed after
//! `min(expiresIn - 120 s, 30 min)`, and once on a 401 (§2.5). Responses are capped in size.
//!
//! The contract (§8) suggests a trait per endpoint so that a fake can stand in; Portner's tests
//! run this client against the real simulator over HTTPS instead, so there is no second
//! implementation to share a trait with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Certificate, Identity, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{
    ActivationOrder, AllowSigning, AssignedRole, AuthenticatorList, CreateEmployee,
    CreatedEmployee, EmailUpdate, EmployeeList, EmployeeRecord, ProductionUnit, ProfileUpdate,
    RequestCredentials, RoleCatalogue, RoleChange, SeNumberEntry, SearchRequest, TokenResponse,
    note_extra, paths,
};

/// Largest response body read (E3 for a large organisation is the biggest).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// Error bodies are kept to 2 KiB (§5).
const MAX_ERROR_BODY: usize = 2048;

/// The organisation's client certificate.
#[derive(Clone)]
pub enum ClientIdentity {
    /// PKCS#12 as exported from MitID Erhverv (§2.1).
    Pkcs12 {
        /// The DER bytes.
        der: Vec<u8>,
        /// Its password.
        password: String,
    },
    /// PEM certificate and PKCS#8 PEM key.
    Pem {
        /// Certificate chain.
        cert: Vec<u8>,
        /// Private key.
        key: Vec<u8>,
    },
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pkcs12 { .. } => formatter.write_str("ClientIdentity::Pkcs12(<redacted>)"),
            Self::Pem { .. } => formatter.write_str("ClientIdentity::Pem(<redacted>)"),
        }
    }
}

/// How to reach the API.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL, e.g. `https://services.nemlog-in.dk`.
    pub base_url: String,
    /// The client certificate.
    pub identity: ClientIdentity,
    /// PEM bundle of trusted server roots; the only roots trusted.
    pub trust_roots_pem: Vec<u8>,
    /// Connect timeout (§1: 10 s).
    pub connect_timeout: Duration,
    /// Read timeout (§1: 180 s for E3/M2; 60 s otherwise; one value here).
    pub read_timeout: Duration,
}

/// The error classes of §5.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 5xx, 429, I/O, timeout: retry with backoff.
    #[error("transient failure ({status}): {detail}")]
    Transient {
        /// HTTP status, or 0 for I/O.
        status: u16,
        /// Short description or body excerpt.
        detail: String,
    },
    /// 401 after one refresh: stop the worker and alarm.
    #[error("unauthorized after token refresh")]
    Unauthorized,
    /// 409 on create.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 400 and other 4xx: do not retry until the input changes.
    #[error("permanent failure ({status}): {detail}")]
    Permanent {
        /// HTTP status.
        status: u16,
        /// Body excerpt.
        detail: String,
    },
    /// A 2xx body that does not parse.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The client could not be built (certificate, roots).
    #[error("client configuration: {0}")]
    Config(String),
}

impl ApiError {
    /// A stable code for the outbox and audit (`last_error`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Transient { .. } => "IDM_TRANSIENT",
            Self::Unauthorized => "IDM_UNAUTHORIZED",
            Self::Conflict(_) => "IDM_CONFLICT",
            Self::NotFound => "IDM_NOT_FOUND",
            Self::Permanent { .. } => "IDM_PERMANENT",
            Self::Malformed(_) => "IDM_MALFORMED",
            Self::Config(_) => "IDM_CONFIG",
        }
    }

    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        // A malformed 2xx body is a truncated transfer as often as not (fault `bad_json`).
        matches!(self, Self::Transient { .. } | Self::Malformed(_))
    }
}

struct CachedToken {
    value: String,
    refresh_after: Instant,
}

/// Counters the client keeps for metrics and tests.
#[derive(Debug, Default)]
pub struct ClientCounters {
    /// HTTP requests sent (including A1).
    pub requests: AtomicU64,
    /// Tokens obtained.
    pub tokens: AtomicU64,
    /// 401s that caused a refresh.
    pub unauthorized_refreshes: AtomicU64,
}

/// The client. Cheap to share by reference; one per organisation (§2.6).
pub struct IdmClient {
    http: reqwest::Client,
    base_url: String,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    /// Counters.
    pub counters: ClientCounters,
}

impl std::fmt::Debug for IdmClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IdmClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl IdmClient {
    /// Builds a client trusting only `config.trust_roots_pem`.
    ///
    /// # Errors
    ///
    /// [`ApiError::Config`] if the certificate, key or roots do not parse.
    pub fn new(config: &ClientConfig) -> Result<Self, ApiError> {
        let config_error = |error: reqwest::Error| ApiError::Config(error.to_string());
        let identity = match &config.identity {
            ClientIdentity::Pkcs12 { der, password } => Identity::from_pkcs12_der(der, password),
            ClientIdentity::Pem { cert, key } => Identity::from_pkcs8_pem(cert, key),
        }
        .map_err(config_error)?;
        let roots = Certificate::from_pem_bundle(&config.trust_roots_pem).map_err(config_error)?;
        if roots.is_empty() {
            return Err(ApiError::Config("no trust roots configured".to_owned()));
        }
        let http = reqwest::Client::builder()
            .tls_backend_native()
            .identity(identity)
            .tls_certs_only(roots)
            .https_only(true)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(config_error)?;
        Ok(Self {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            token: tokio::sync::Mutex::new(None),
            counters: ClientCounters::default(),
        })
    }

    /// Drops the cached token so the next call fetches a new one (before long runs, §2.5).
    pub async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// A1: exchanges the client certificate for a token.
    ///
    /// # Errors
    ///
    /// [`ApiError`] by class; a 401 here is [`ApiError::Unauthorized`].
    pub async fn authenticate(&self) -> Result<TokenResponse, ApiError> {
        let (status, body) = self
            .send(
                Method::POST,
                paths::AUTHENTICATE,
                Some(&Value::Object(Default::default())),
                None,
            )
            .await?;
        if status == 401 {
            return Err(ApiError::Unauthorized);
        }
        classify(status, &body)?;
        self.counters.tokens.fetch_add(1, Ordering::Relaxed);
        decode(&body)
    }

    async fn bearer(&self) -> Result<String, ApiError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_after) {
            return Ok(token.value.clone());
        }
        let issued = self.authenticate().await?;
        // §2.5: refresh when min(expiresIn - 120 s, 30 min) has elapsed.
        let lifetime = issued
            .expires_in
            .unwrap_or(3600)
            .saturating_sub(120)
            .clamp(0, 1800);
        let refresh_after =
            Instant::now() + Duration::from_secs(u64::try_from(lifetime).unwrap_or(0));
        *cached = Some(CachedToken {
            value: issued.access_token.clone(),
            refresh_after,
        });
        Ok(issued.access_token)
    }

    /// One authorised call: on the first 401, refresh the token once and repeat once (§2.5).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, ApiError> {
        let token = self.bearer().await?;
        let (status, response) = self.send(method.clone(), path, body, Some(&token)).await?;
        if status != 401 {
            classify(status, &response)?;
            return Ok(response);
        }
        self.counters
            .unauthorized_refreshes
            .fetch_add(1, Ordering::Relaxed);
        {
            let mut cached = self.token.lock().await;
            if cached.as_ref().is_some_and(|t| t.value == token) {
                *cached = None;
            }
        }
        let token = self.bearer().await?;
        let (status, response) = self.send(method, path, body, Some(&token)).await?;
        if status == 401 {
            return Err(ApiError::Unauthorized);
        }
        classify(status, &response)?;
        Ok(response)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("accept", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(io_error)?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(io_error)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE {
                return Err(ApiError::Malformed("response too large".to_owned()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, bytes))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        decode(&self.call(Method::GET, path, None).await?)
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        decode(
            &self
                .call(Method::POST, path, Some(&to_value(body)?))
                .await?,
        )
    }

    async fn send_only<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), ApiError> {
        let body = body.map(to_value).transpose()?;
        self.call(method, path, body.as_ref()).await.map(|_| ())
    }

    /// E1: creates an identity; returns its UUID.
    ///
    /// # Errors
    ///
    /// [`ApiError::Conflict`] on 409 (run the re-link procedure), else by class.
    pub async fn create_employee(&self, request: &CreateEmployee) -> Result<String, ApiError> {
        let created: CreatedEmployee = self.post(paths::EMPLOYEE, request).await?;
        Ok(created.employee_uuid)
    }

    /// E2: reads one identity.
    ///
    /// # Errors
    ///
    /// [`ApiError::NotFound`] for an unknown UUID, else by class.
    pub async fn employee(&self, uuid: &str) -> Result<EmployeeRecord, ApiError> {
        let record: EmployeeRecord = self.get(&paths::employee(uuid)).await?;
        note_extra("EmployeeRecord", &record.extra);
        Ok(record)
    }

    /// E3: lists all employees of the organisation.
    ///
    /// # Errors
    ///
    /// By class; connection errors are frequent here (§1 "Reliability").
    pub async fn search(&self) -> Result<EmployeeList, ApiError> {
        let request = SearchRequest {
            max_count: 0,
            remove_uuid_from_result_set: false,
        };
        let list: EmployeeList = self.post(paths::SEARCH, &request).await?;
        if let Some(first) = list.employees.first() {
            note_extra("EmployeeSummary", &first.extra);
        }
        Ok(list)
    }

    /// E4: updates the sensitive profile.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn update_profile(&self, uuid: &str, update: &ProfileUpdate) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, "profile");
        self.send_only(Method::PUT, &path, Some(update)).await
    }

    /// E5: fills the draft profile of an imported identity.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn update_draft(&self, uuid: &str, update: &ProfileUpdate) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, "profile/draft");
        self.send_only(Method::PUT, &path, Some(update)).await
    }

    /// E6: changes the e-mail.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn change_email(&self, uuid: &str, email: &str) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, "profile/nonsensitive");
        let body = EmailUpdate {
            email_address: email.to_owned(),
        };
        self.send_only(Method::PUT, &path, Some(&body)).await
    }

    /// E7: suspends.
    ///
    /// # Errors
    ///
    /// [`ApiError::NotFound`] if the identity is gone, else by class.
    pub async fn suspend(&self, uuid: &str) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, "suspend");
        self.send_only::<Value>(Method::PUT, &path, None).await
    }

    /// E8: reactivates.
    ///
    /// # Errors
    ///
    /// [`ApiError::NotFound`] if the identity is gone, else by class.
    pub async fn reactivate(&self, uuid: &str) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, "reactivate");
        self.send_only::<Value>(Method::PUT, &path, None).await
    }

    /// E9: deletes.
    ///
    /// # Errors
    ///
    /// [`ApiError::NotFound`] if already deleted, else by class.
    pub async fn delete(&self, uuid: &str) -> Result<(), ApiError> {
        self.send_only::<Value>(Method::DELETE, &paths::employee(uuid), None)
            .await
    }

    /// E10: grants or revokes signing on behalf of the organisation.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn set_allow_signing(&self, uuid: &str, allow: bool) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, "allowsigning");
        let body = AllowSigning {
            allow_signing: allow,
        };
        self.send_only(Method::PUT, &path, Some(&body)).await
    }

    /// C1: lists authenticators.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn authenticators(&self, uuid: &str) -> Result<AuthenticatorList, ApiError> {
        self.get(&paths::employee_sub(uuid, "authenticators")).await
    }

    /// C2: binds the Local-IdP login or adds private MitID.
    ///
    /// # Errors
    ///
    /// [`ApiError::Conflict`] if another identity holds the `subjectNameId`, else by class.
    pub async fn request_credentials(
        &self,
        uuid: &str,
        request: &RequestCredentials,
    ) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, "requestcredentials");
        self.send_only(Method::POST, &path, Some(request)).await
    }

    /// C3: removes one authenticator.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn revoke_credential(&self, uuid: &str, authenticator: &str) -> Result<(), ApiError> {
        let path = paths::employee_sub(uuid, &format!("revokecredential/{authenticator}"));
        self.send_only(
            Method::POST,
            &path,
            Some(&Value::Object(Default::default())),
        )
        .await
    }

    /// M1: activates imported identities for Local-IdP login.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn activate(&self, order: &ActivationOrder) -> Result<(), ApiError> {
        self.send_only(Method::POST, paths::ACTIVATION_ORDERS, Some(order))
            .await
    }

    /// M2: imported identities pending activation.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn migrated_identities(&self) -> Result<EmployeeList, ApiError> {
        self.get(paths::MIGRATED).await
    }

    /// R1: the rights catalogue.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn role_catalogue(&self) -> Result<RoleCatalogue, ApiError> {
        self.get(paths::CATALOGUE).await
    }

    /// R2: rights assigned to an identity.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn roles(&self, uuid: &str) -> Result<Vec<AssignedRole>, ApiError> {
        self.get(&paths::rights(uuid)).await
    }

    /// R3: assigns rights in a scope.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn add_roles(&self, uuid: &str, change: &RoleChange) -> Result<(), ApiError> {
        self.send_only(Method::POST, &paths::rights(uuid), Some(change))
            .await
    }

    /// R4: removes rights in a scope; a DELETE with a JSON body.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn remove_roles(&self, uuid: &str, change: &RoleChange) -> Result<(), ApiError> {
        self.send_only(Method::DELETE, &paths::rights(uuid), Some(change))
            .await
    }

    /// R5: SE numbers.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn se_numbers(&self) -> Result<Vec<SeNumberEntry>, ApiError> {
        self.get(paths::SE_NUMBERS).await
    }

    /// R6: production units.
    ///
    /// # Errors
    ///
    /// By class.
    pub async fn production_units(&self) -> Result<Vec<ProductionUnit>, ApiError> {
        self.get(paths::PRODUCTION_UNITS).await
    }
}

fn io_error(error: reqwest::Error) -> ApiError {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else {
        "io"
    };
    ApiError::Transient {
        status: 0,
        detail: format!("{kind}: {error}"),
    }
}

fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(MAX_ERROR_BODY)];
    String::from_utf8_lossy(cut).into_owned()
}

/// Maps a status to the error classes of §5; `Ok` for any 2xx.
fn classify(status: u16, body: &[u8]) -> Result<(), ApiError> {
    match status {
        200..=299 => Ok(()),
        401 => Err(ApiError::Unauthorized),
        404 => Err(ApiError::NotFound),
        409 => Err(ApiError::Conflict(excerpt(body))),
        429 | 500..=599 => Err(ApiError::Transient {
            status,
            detail: excerpt(body),
        }),
        _ => Err(ApiError::Permanent {
            status,
            detail: excerpt(body),
        }),
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::Malformed(error.to_string()))
}

fn to_value<B: Serialize>(body: &B) -> Result<Value, ApiError> {
    serde_json::to_value(body).map_err(|error| ApiError::Malformed(error.to_string()))
}
