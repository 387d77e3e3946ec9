//! The simulator's in-memory MitID Erhverv (mitid-erhverv-idm-api.md §9.2, §9.3).
//!
//! SIMULATION of observed behaviour, not the real service: every rule here is the contract's
//! \[P\] choice, meant to be at least as strict as what public clients observed.
//! All operations are synchronous on `&mut SimState`; the HTTP layer holds the lock only for
//! the duration of one call and never across an await.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::faults::{FaultRule, SeededRng};
use crate::api::{CatalogueRole, Scope};

/// A simulated organisation (§9.2).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SimOrganisation {
    /// CVR number (test CVRs start with 9).
    pub cvr: String,
    /// SE numbers.
    pub se_numbers: Vec<String>,
    /// P-numbers.
    pub p_units: Vec<i64>,
    /// The role catalogue served by R1.
    pub catalogue: Vec<CatalogueRole>,
}

/// One simulated authenticator.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct SimAuthenticator {
    /// Its UUID.
    pub uuid: String,
    /// `LocalIdentityProvider` or `PrivateMitId`.
    pub kind: String,
    /// For the local one: the `subjectNameId`, if bound.
    pub id: Option<String>,
}

/// One simulated identity (§9.2). Test data only: CPR numbers are fictitious.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct SimEmployee {
    /// Monotonic numeric id.
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// `Active`, `Suspended` or `Pending`.
    pub status: String,
    /// Given name(s).
    pub given_name: String,
    /// Surname.
    pub surname: String,
    /// CPR number.
    pub cpr: String,
    /// E-mail.
    pub email: String,
    /// Legacy RID.
    pub rid: Option<String>,
    /// Pseudonym flag.
    pub pseudonym: bool,
    /// Qualified certificate flag.
    pub allow_qualified: bool,
    /// E10 permission.
    pub allow_signing: bool,
    /// Administrator roles (never written by the client).
    pub admin_roles: Vec<String>,
    /// Authenticators.
    pub authenticators: Vec<SimAuthenticator>,
    /// Rights: (role UUID, scope type, scope value).
    pub rights: BTreeSet<(String, String, String)>,
}

impl SimEmployee {
    /// The bound `subjectNameId`, if any.
    pub fn local_id(&self) -> Option<&str> {
        self.authenticators
            .iter()
            .find(|auth| auth.kind == "LocalIdentityProvider")
            .and_then(|auth| auth.id.as_deref())
    }
}

/// One entry of the call log (§9.2).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CallRecord {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Status returned (0 for a reset).
    pub status: u16,
    /// FNV-1a hash of the body, hex.
    pub body_hash: String,
    /// Simulated time, epoch ms.
    pub at_ms: i64,
}

/// The whole simulated world.
#[derive(Debug)]
pub struct SimState {
    pub(crate) orgs: BTreeMap<String, SimOrganisation>,
    pub(crate) employees: BTreeMap<String, BTreeMap<String, SimEmployee>>,
    /// Issued tokens: token -> (CVR, expiry epoch ms).
    pub tokens: HashMap<String, (String, i64)>,
    pub(crate) next_id: i64,
    /// The call log (§9.2).
    pub calls: Vec<CallRecord>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) rng: SeededRng,
    pub(crate) clock_offset_ms: i64,
    pub(crate) token_lifetime_s: i64,
    /// "Extra fields" mode (§9.3).
    pub extra_fields: bool,
    pub(crate) keep_call_log: bool,
    /// Lookup index for the 409 checks; `None` after any change it may not reflect.
    index: Option<ConflictIndex>,
}

/// CPR numbers per organisation and bound `subjectNameId`s, so that E1's conflict checks do
/// not scan every identity (the benchmark compares the sync with the simulator's capacity,
/// which must not degrade as identities accumulate).
#[derive(Debug, Default)]
struct ConflictIndex {
    cprs: std::collections::HashSet<(String, String)>,
    subjects: HashMap<String, String>,
}

impl ConflictIndex {
    fn add(&mut self, cvr: &str, employee: &SimEmployee) {
        self.cprs.insert((cvr.to_owned(), employee.cpr.clone()));
        if let Some(id) = employee.local_id() {
            self.subjects
                .insert(id.to_ascii_lowercase(), employee.uuid.clone());
        }
    }
}

/// The answer to one simulated call.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body, if any.
    pub body: Option<Value>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    fn empty(status: u16) -> Self {
        Self { status, body: None }
    }

    fn error(status: u16, message: &str) -> Self {
        Self::json(status, json!({ "message": message }))
    }
}

impl SimState {
    /// An empty world with a seed for its generator.
    pub fn new(seed: u64) -> Self {
        Self {
            orgs: BTreeMap::new(),
            employees: BTreeMap::new(),
            tokens: HashMap::new(),
            next_id: 1,
            calls: Vec::new(),
            faults: Vec::new(),
            rng: SeededRng::new(seed),
            clock_offset_ms: 0,
            token_lifetime_s: 3600,
            extra_fields: false,
            keep_call_log: true,
            index: None,
        }
    }

    /// Simulated now, epoch ms.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.clock_offset_ms
    }

    /// Adds or replaces an organisation.
    pub fn seed_organisation(&mut self, org: SimOrganisation) {
        self.employees.entry(org.cvr.clone()).or_default();
        self.orgs.insert(org.cvr.clone(), org);
    }

    /// Employees of an organisation.
    pub fn employees_of(&self, cvr: &str) -> Vec<SimEmployee> {
        self.employees
            .get(cvr)
            .map(|all| all.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Inserts an identity as an administrator would out of band (or an imported NemID
    /// identity with a RID), returning its UUID.
    pub fn seed_employee(&mut self, cvr: &str, mut employee: SimEmployee) -> String {
        if employee.uuid.is_empty() {
            employee.uuid = uuid::Uuid::new_v4().to_string();
        }
        employee.id = self.next_id;
        self.next_id += 1;
        let uuid = employee.uuid.clone();
        if let Some(index) = self.index.as_mut() {
            index.add(cvr, &employee);
        }
        self.employees
            .entry(cvr.to_owned())
            .or_default()
            .insert(uuid.clone(), employee);
        uuid
    }

    /// Mutable access for out-of-band changes (suspend, delete, change e-mail or the local
    /// authenticator's id) as an administrator in MitID Erhverv would make them.
    pub fn employee_mut(&mut self, cvr: &str, uuid: &str) -> Option<&mut SimEmployee> {
        self.index = None;
        self.employees.get_mut(cvr)?.get_mut(uuid)
    }

    /// Removes an identity out of band.
    pub fn delete_out_of_band(&mut self, cvr: &str, uuid: &str) -> bool {
        self.index = None;
        self.employees
            .get_mut(cvr)
            .is_some_and(|all| all.remove(uuid).is_some())
    }

    /// Expires every token now (fault `token_expiry`).
    pub fn expire_tokens(&mut self) {
        let now = self.now_ms();
        for (_, expires) in self.tokens.values_mut() {
            *expires = now - 1;
        }
    }

    /// A1: issues a token to the organisation the certificate maps to.
    pub fn issue_token(&mut self, cvr: &str) -> Reply {
        if !self.orgs.contains_key(cvr) {
            return Reply::error(401, "certificate not registered for IdM services");
        }
        let token = format!("{}{}", hex::encode(self.rng.next_u64().to_be_bytes()), {
            hex::encode(self.rng.next_u64().to_be_bytes())
        });
        let expires = self.now_ms() + self.token_lifetime_s * 1000;
        self.tokens.insert(token.clone(), (cvr.to_owned(), expires));
        Reply::json(
            200,
            json!({
                "accessToken": token,
                "tokenType": "Bearer",
                "expiresIn": self.token_lifetime_s,
            }),
        )
    }

    /// The organisation a bearer token belongs to, if it is known and unexpired.
    pub fn token_org(&self, token: &str) -> Option<String> {
        let (cvr, expires) = self.tokens.get(token)?;
        (self.now_ms() < *expires).then(|| cvr.clone())
    }

    /// Records a call in the log.
    pub fn log_call(&mut self, method: &str, path: &str, status: u16, body: &[u8]) {
        if !self.keep_call_log {
            return;
        }
        let at_ms = self.now_ms();
        self.calls.push(CallRecord {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            body_hash: format!("{:016x}", fnv1a(body)),
            at_ms,
        });
    }

    /// Handles one authenticated API call for `cvr`. `body` has lower-cased keys (§9.3 "bind
    /// JSON keys case-insensitively").
    pub fn handle(&mut self, cvr: &str, method: &str, path: &str, body: &Value) -> Reply {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let reply = match (method, segments.as_slice()) {
            ("POST", ["api", "administration", "identity", "employee"]) => {
                self.create_employee(cvr, body)
            }
            ("POST", ["api", "administration", "identity", "employee", "search"]) => {
                self.search(cvr, body)
            }
            (
                _,
                [
                    "api",
                    "administration",
                    "identity",
                    "employee",
                    uuid,
                    rest @ ..,
                ],
            ) => self.employee_call(cvr, method, uuid, rest, body),
            (
                "POST",
                [
                    "api",
                    "admin",
                    "organization-activation",
                    "activation-orders",
                ],
            ) => self.activate(cvr, body),
            (
                "GET",
                [
                    "api",
                    "admin",
                    "organization-activation",
                    "migrated-identities",
                    _,
                ],
            ) => self.migrated(cvr),
            ("GET", ["api", "administration", "rights", "categorizedRoles"]) => {
                let roles = self.orgs.get(cvr).map(|org| org.catalogue.clone());
                Reply::json(200, json!({ "roles": roles.unwrap_or_default() }))
            }
            (_, ["api", "administration", "rights", "identity", uuid, "roles"]) => {
                self.rights_call(cvr, method, uuid, body)
            }
            ("GET", ["api", "administration", "organization", "senumber"]) => {
                let numbers = self.orgs.get(cvr).map(|org| org.se_numbers.clone());
                let list: Vec<Value> = numbers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|se| json!({ "seNumber": se }))
                    .collect();
                Reply::json(200, Value::Array(list))
            }
            ("GET", ["api", "administration", "organization", "productionunits"]) => {
                let units = self.orgs.get(cvr).map(|org| org.p_units.clone());
                let list: Vec<Value> = units
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| json!({ "pNumber": p, "cvrNumber": cvr, "name": "Enhed" }))
                    .collect();
                Reply::json(200, Value::Array(list))
            }
            _ => Reply::error(404, "no such route"),
        };
        self.decorate(reply)
    }

    /// "Extra fields" mode (§9.3): adds unknown fields to object responses.
    fn decorate(&mut self, mut reply: Reply) -> Reply {
        if self.extra_fields
            && let Some(Value::Object(map)) = reply.body.as_mut()
        {
            let noise = self.rng.next_u64();
            map.insert(
                format!("simExtra{}", noise % 97),
                json!({ "n": noise % 1000 }),
            );
        }
        reply
    }

    fn create_employee(&mut self, cvr: &str, body: &Value) -> Reply {
        let profile = &body["identityprofile"];
        let auth = &body["identityauthenticators"];
        let fields = profile_fields(profile);
        let (given, surname, cpr, email) = match fields {
            Ok(fields) => fields,
            Err(message) => return Reply::error(400, &message),
        };
        let types: Vec<&str> = auth["authenticatortypes"]
            .as_array()
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let subject = auth["subjectnameid"].as_str().map(str::to_owned);
        let local = types.contains(&"LocalIdentityProvider");
        if local && subject.as_deref().is_none_or(str::is_empty) {
            return Reply::error(400, "subjectNameId is required for LocalIdentityProvider");
        }

        if self.cpr_taken(cvr, &cpr) || subject.as_deref().is_some_and(|s| self.bound(s)) {
            return Reply::error(409, "Conflicting account");
        }

        let mut authenticators = Vec::new();
        if local {
            authenticators.push(SimAuthenticator {
                uuid: uuid::Uuid::new_v4().to_string(),
                kind: "LocalIdentityProvider".to_owned(),
                id: subject,
            });
        }
        if types.contains(&"PrivateNemIdMitId") {
            authenticators.push(private_mitid());
        }
        let employee = SimEmployee {
            id: 0,
            uuid: String::new(),
            status: if local { "Active" } else { "Pending" }.to_owned(),
            given_name: given,
            surname,
            cpr,
            email,
            rid: profile["rid"].as_str().map(str::to_owned),
            pseudonym: profile["pseudonym"].as_bool().unwrap_or(false),
            allow_qualified: profile["allowqualifiedcertificateissuance"]
                .as_bool()
                .unwrap_or(false),
            allow_signing: false,
            admin_roles: Vec::new(),
            authenticators,
            rights: BTreeSet::new(),
        };
        let uuid = self.seed_employee(cvr, employee);
        Reply::json(200, json!({ "employeeUuid": uuid }))
    }

    fn conflict_index(&mut self) -> &ConflictIndex {
        let employees = &self.employees;
        self.index.get_or_insert_with(|| {
            let mut index = ConflictIndex::default();
            for (cvr, all) in employees {
                for employee in all.values() {
                    index.add(cvr, employee);
                }
            }
            index
        })
    }

    fn cpr_taken(&mut self, cvr: &str, cpr: &str) -> bool {
        self.conflict_index()
            .cprs
            .contains(&(cvr.to_owned(), cpr.to_owned()))
    }

    fn bound(&mut self, subject: &str) -> bool {
        self.conflict_index()
            .subjects
            .contains_key(&subject.to_ascii_lowercase())
    }

    /// The identity holding `subject`, by a full scan (C2 is rare; E1 uses the index).
    fn holder_of(&self, subject: &str) -> Option<String> {
        self.employees
            .values()
            .flat_map(BTreeMap::values)
            .find_map(|employee| {
                employee
                    .local_id()
                    .is_some_and(|id| id.eq_ignore_ascii_case(subject))
                    .then(|| employee.uuid.clone())
            })
    }

    fn search(&mut self, cvr: &str, body: &Value) -> Reply {
        let max = body["maxcount"].as_i64().unwrap_or(0);
        let all = self.employees.get(cvr).map(BTreeMap::values);
        let mut list: Vec<Value> = all.into_iter().flatten().map(summary).collect();
        if max > 0 {
            list.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        }
        Reply::json(200, json!({ "employees": list }))
    }

    fn migrated(&self, cvr: &str) -> Reply {
        let all = self.employees.get(cvr).map(BTreeMap::values);
        let list: Vec<Value> = all
            .into_iter()
            .flatten()
            .filter(|employee| employee.status == "Pending" && employee.rid.is_some())
            .map(summary)
            .collect();
        Reply::json(200, json!({ "employees": list }))
    }

    fn activate(&mut self, cvr: &str, body: &Value) -> Reply {
        let uuids: Vec<String> = body["useruuids"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for uuid in uuids {
            let Some(employee) = self.employee_mut(cvr, &uuid) else {
                return Reply::error(404, "unknown identity");
            };
            employee.status = "Active".to_owned();
            if employee.local_id().is_none()
                && !employee
                    .authenticators
                    .iter()
                    .any(|a| a.kind == "LocalIdentityProvider")
            {
                employee.authenticators.push(SimAuthenticator {
                    uuid: uuid::Uuid::new_v4().to_string(),
                    kind: "LocalIdentityProvider".to_owned(),
                    id: None,
                });
            }
        }
        Reply::empty(200)
    }

    fn employee_call(
        &mut self,
        cvr: &str,
        method: &str,
        uuid: &str,
        rest: &[&str],
        body: &Value,
    ) -> Reply {
        if !self
            .employees
            .get(cvr)
            .is_some_and(|all| all.contains_key(uuid))
        {
            return Reply::error(404, "unknown identity");
        }
        match (method, rest) {
            ("GET", []) => self.record(cvr, uuid),
            ("DELETE", []) => {
                self.delete_out_of_band(cvr, uuid);
                Reply::empty(204)
            }
            ("PUT", ["profile"] | ["profile", "draft"]) => self.update_profile(cvr, uuid, body),
            ("PUT", ["profile", "nonsensitive"]) => {
                let Some(email) = clean(&body["emailaddress"]) else {
                    return Reply::error(400, "emailAddress missing or untrimmed");
                };
                self.with_employee(cvr, uuid, |employee| employee.email = email);
                Reply::empty(200)
            }
            ("PUT", ["suspend"]) => self.set_status(cvr, uuid, "Suspended"),
            ("PUT", ["reactivate"]) => self.set_status(cvr, uuid, "Active"),
            ("PUT", ["allowsigning"]) => match body["allowsigning"].as_bool() {
                Some(allow) => {
                    self.with_employee(cvr, uuid, |employee| employee.allow_signing = allow);
                    Reply::empty(200)
                }
                None => Reply::error(400, "allowSigning missing"),
            },
            ("GET", ["authenticators"]) => self.authenticators(cvr, uuid),
            ("POST", ["requestcredentials"]) => self.request_credentials(cvr, uuid, body),
            ("POST", ["revokecredential", auth_uuid]) => {
                let mut removed = false;
                self.with_employee(cvr, uuid, |employee| {
                    let before = employee.authenticators.len();
                    employee
                        .authenticators
                        .retain(|auth| auth.uuid != *auth_uuid);
                    removed = employee.authenticators.len() != before;
                });
                if removed {
                    Reply::empty(200)
                } else {
                    Reply::error(404, "unknown authenticator")
                }
            }
            _ => Reply::error(404, "no such route"),
        }
    }

    fn with_employee(&mut self, cvr: &str, uuid: &str, change: impl FnOnce(&mut SimEmployee)) {
        self.index = None;
        if let Some(employee) = self.employee_mut(cvr, uuid) {
            change(employee);
        }
    }

    fn record(&self, cvr: &str, uuid: &str) -> Reply {
        let Some(employee) = self.employees.get(cvr).and_then(|all| all.get(uuid)) else {
            return Reply::error(404, "unknown identity");
        };
        Reply::json(
            200,
            json!({
                "uuid": employee.uuid,
                "identityProfile": {
                    "status": employee.status,
                    "rid": employee.rid,
                    "allowQualifiedCertificateIssuance": employee.allow_qualified,
                    "roles": employee.admin_roles,
                },
                "identityPermissions": {
                    "authorizedToRepresent": false,
                    "allowSigning": employee.allow_signing,
                },
            }),
        )
    }

    fn update_profile(&mut self, cvr: &str, uuid: &str, body: &Value) -> Reply {
        match profile_fields(body) {
            Ok((given, surname, cpr, email)) => {
                self.with_employee(cvr, uuid, |employee| {
                    employee.given_name = given;
                    employee.surname = surname;
                    employee.cpr = cpr;
                    employee.email = email;
                });
                Reply::empty(200)
            }
            Err(message) => Reply::error(400, &message),
        }
    }

    fn set_status(&mut self, cvr: &str, uuid: &str, status: &str) -> Reply {
        // Status is not indexed: change it without invalidating the conflict index.
        let found = self
            .employees
            .get_mut(cvr)
            .and_then(|all| all.get_mut(uuid));
        if let Some(employee) = found {
            employee.status = status.to_owned();
        }
        Reply::empty(204)
    }

    fn authenticators(&self, cvr: &str, uuid: &str) -> Reply {
        let Some(employee) = self.employees.get(cvr).and_then(|all| all.get(uuid)) else {
            return Reply::error(404, "unknown identity");
        };
        let list: Vec<Value> = employee
            .authenticators
            .iter()
            .map(|auth| {
                json!({ "uuid": auth.uuid, "type": auth.kind, "status": "Active", "id": auth.id })
            })
            .collect();
        Reply::json(200, json!({ "authenticators": list }))
    }

    fn request_credentials(&mut self, cvr: &str, uuid: &str, body: &Value) -> Reply {
        let types: Vec<String> = body["authenticatorsettingtypes"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if types.iter().any(|kind| kind == "LocalIdentityProvider") {
            let Some(subject) = clean(&body["subjectnameid"]) else {
                return Reply::error(400, "subjectNameId missing or untrimmed");
            };
            if self
                .holder_of(&subject)
                .is_some_and(|holder| holder != uuid)
            {
                return Reply::error(409, "subjectNameId bound to another identity");
            }
            self.with_employee(cvr, uuid, |employee| {
                match employee
                    .authenticators
                    .iter_mut()
                    .find(|auth| auth.kind == "LocalIdentityProvider")
                {
                    Some(auth) => auth.id = Some(subject),
                    None => employee.authenticators.push(SimAuthenticator {
                        uuid: uuid::Uuid::new_v4().to_string(),
                        kind: "LocalIdentityProvider".to_owned(),
                        id: Some(subject),
                    }),
                }
            });
            return Reply::empty(200);
        }
        if types.iter().any(|kind| kind == "PrivateNemIdMitId") {
            self.with_employee(cvr, uuid, |employee| {
                if !employee
                    .authenticators
                    .iter()
                    .any(|a| a.kind == "PrivateMitId")
                {
                    employee.authenticators.push(private_mitid());
                }
            });
            return Reply::empty(200);
        }
        Reply::error(400, "authenticatorSettingTypes missing")
    }

    fn rights_call(&mut self, cvr: &str, method: &str, uuid: &str, body: &Value) -> Reply {
        let Some(employee) = self.employees.get(cvr).and_then(|all| all.get(uuid)) else {
            return Reply::error(404, "unknown identity");
        };
        if method == "GET" {
            let names: HashMap<&str, Option<&String>> = self
                .orgs
                .get(cvr)
                .map(|org| {
                    org.catalogue
                        .iter()
                        .map(|role| (role.uuid.as_str(), role.name.as_ref()))
                        .collect()
                })
                .unwrap_or_default();
            let list: Vec<Value> = employee
                .rights
                .iter()
                .map(|(role, kind, value)| {
                    json!({
                        "uuid": role,
                        "name": names.get(role.as_str()).copied().flatten(),
                        "scope": { "type": kind, "value": value },
                    })
                })
                .collect();
            return Reply::json(200, Value::Array(list));
        }
        let (scope, roles) = match self.parse_role_change(cvr, body) {
            Ok(parsed) => parsed,
            Err(message) => return Reply::error(400, &message),
        };
        let adding = match method {
            "POST" => true,
            "DELETE" => false,
            _ => return Reply::error(405, "method not allowed"),
        };
        self.with_employee(cvr, uuid, |employee| {
            for role in roles {
                let key = (role, scope.kind.clone(), scope.value.clone());
                if adding {
                    employee.rights.insert(key);
                } else {
                    employee.rights.remove(&key);
                }
            }
        });
        Reply::empty(200)
    }

    fn parse_role_change(&self, cvr: &str, body: &Value) -> Result<(Scope, Vec<String>), String> {
        let kind = body["scope"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let value = body["scope"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let org = self.orgs.get(cvr).ok_or("unknown organisation")?;
        let belongs = match kind.as_str() {
            "Cvr" => value == org.cvr,
            "PU" => org.p_units.iter().any(|p| p.to_string() == value),
            "SE" => org.se_numbers.contains(&value),
            _ => return Err("scope type must be Cvr, PU or SE".to_owned()),
        };
        if !belongs {
            return Err("scope value does not belong to the organisation".to_owned());
        }
        let roles: Vec<String> = body["roleuuids"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if roles.is_empty() {
            return Err("roleUuids missing".to_owned());
        }
        Ok((Scope { kind, value }, roles))
    }
}

fn private_mitid() -> SimAuthenticator {
    SimAuthenticator {
        uuid: uuid::Uuid::new_v4().to_string(),
        kind: "PrivateMitId".to_owned(),
        id: None,
    }
}

fn summary(employee: &SimEmployee) -> Value {
    json!({
        "id": employee.id,
        "uuid": employee.uuid,
        "status": employee.status,
        "emailAddress": employee.email,
        "rid": employee.rid,
        "profile": {
            "givenName": employee.given_name,
            "surname": employee.surname,
            "cprNumber": employee.cpr,
        },
    })
}

/// A present, non-empty, trimmed string (§9.3: untrimmed values are a 400).
fn clean(value: &Value) -> Option<String> {
    let text = value.as_str()?;
    (!text.is_empty() && text.trim() == text).then(|| text.to_owned())
}

type ProfileFields = (String, String, String, String);

/// E1 / E4 / E5 validation (§9.3): names, CPR (10 digits) and e-mail present and trimmed.
fn profile_fields(profile: &Value) -> Result<ProfileFields, String> {
    let given = clean(&profile["givenname"]).ok_or("givenName missing or untrimmed")?;
    let surname = clean(&profile["surname"]).ok_or("surname missing or untrimmed")?;
    let cpr = clean(&profile["cprnumber"]).ok_or("cprNumber missing or untrimmed")?;
    let email = clean(&profile["emailaddress"]).ok_or("emailAddress missing or untrimmed")?;
    if cpr.len() != 10 || !cpr.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err("cprNumber must be 10 digits".to_owned());
    }
    Ok((given, surname, cpr, email))
}

/// Lower-cases every object key, recursively, so that handlers read one casing (§1 "Key case").
pub fn lower_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, inner)| (key.to_ascii_lowercase(), lower_keys(inner)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
