//! Network passwords: Argon2id hashing and verification off the async runtime, and the
//! password policy (PW-1, PW-4, AU-4).
//!
//! Every hash and verification runs on a fixed pool of one thread per core, fed by a queue, so
//! a burst of sign-ins queues instead of starving the async runtime, and at most one Argon2
//! memory block per core is in use at a time. Verifications reuse one Argon2 working memory
//! per pool thread instead of allocating 19 MiB per call; a fixed pool (rather than
//! `spawn_blocking` behind a semaphore, whose threads come and go) keeps the number of those
//! buffers at the core count. With that, the benchmark's memory peak fell from about 1.2 GB to
//! about 230 MB (docs/benchmarks.md). Hashing new passwords (activation, change, rehash)
//! still allocates per call; it is rare.
//!
//! An unknown username is verified against a dummy hash made at start-up with the same
//! parameters, so it costs the same time as a wrong password (PW-4, ASVS 6.3.8).

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use portner_shared::config::SignInSettings;
use portner_shared::crypto::constant_time_eq;

use super::SignInError;

/// The longest password accepted (characters); longer input is refused before hashing.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// zxcvbn score a new password must reach (0-4; 3 is "safely unguessable").
const MIN_STRENGTH_SCORE: u8 = 3;
/// Argon2 salt length in bytes (the PHC recommendation).
const SALT_BYTES: usize = 16;

/// A password as typed. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps form input, refusing more than [`MAX_PASSWORD_CHARS`] characters. The text is
    /// used exactly as typed: no trimming or normalisation (ASVS 6.2.9).
    ///
    /// # Errors
    ///
    /// [`SignInError::BadInput`] for an empty or overlong password.
    pub fn new(text: &str) -> Result<Self, SignInError> {
        let length = text.chars().count();
        if length == 0 || length > MAX_PASSWORD_CHARS {
            return Err(SignInError::BadInput("password"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The password. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

/// Why a new password was refused; each has a stable code and a message on the page.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum PolicyViolation {
    /// Shorter than the configured minimum.
    #[error("PASSWORD_TOO_SHORT")]
    TooShort,
    /// Longer than 256 characters.
    #[error("PASSWORD_TOO_LONG")]
    TooLong,
    /// Too easy to guess by the strength estimator.
    #[error("PASSWORD_TOO_WEAK")]
    TooWeak,
    /// Contains the username, the display name or the organisation name (PW-1).
    #[error("PASSWORD_CONTAINS_NAME")]
    ContainsName,
    /// One of the last N passwords.
    #[error("PASSWORD_REUSED")]
    Reused,
}

/// The outcome of a verification.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Verification {
    /// Whether the password matched a real stored hash.
    pub matched: bool,
    /// Whether the stored hash was made with other parameters than the current policy's, so
    /// a successful sign-in should store a fresh hash.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords under the configured Argon2id parameters.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    pool: Arc<Pool>,
    dummy_hash: Arc<str>,
    /// The shortest password accepted; the live policy changes it (`live_policy`).
    min_length: Arc<std::sync::atomic::AtomicUsize>,
    verifications: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Passwords")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// Sets up hashing with the configured parameters and computes the dummy hash.
    ///
    /// # Errors
    ///
    /// [`SignInError::Internal`] if the parameters are refused by Argon2 or hashing fails.
    pub fn new(settings: &SignInSettings) -> Result<Self, SignInError> {
        let params = Params::new(
            settings.password_argon2_memory_kib,
            settings.password_argon2_iterations,
            settings.password_argon2_parallelism,
            None,
        )
        .map_err(|error| SignInError::Internal(format!("argon2 parameters: {error}")))?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let dummy_secret = hex::encode(random_bytes::<16>()?);
        let dummy_hash = hash_blocking(&params, dummy_secret.as_bytes())?;
        Ok(Self {
            params,
            pool: Arc::new(Pool::start(cores)?),
            dummy_hash: dummy_hash.into(),
            min_length: Arc::new(std::sync::atomic::AtomicUsize::new(
                usize::try_from(settings.password_min_length).unwrap_or(usize::MAX),
            )),
            verifications: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    /// The shortest password accepted, shared so that the live policy can change it.
    pub fn min_length(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        Arc::clone(&self.min_length)
    }

    /// Hashes a password into a PHC string under the current parameters.
    ///
    /// # Errors
    ///
    /// [`SignInError::Internal`] if hashing failed.
    pub async fn hash(&self, password: &Password) -> Result<String, SignInError> {
        let params = self.params.clone();
        let secret = password.clone();
        self.run_limited(move || hash_blocking(&params, secret.expose().as_bytes()))
            .await?
    }

    /// Verifies a password against a stored PHC string, or, when there is none (unknown
    /// user, no password set), against the dummy hash so that both paths cost one Argon2id
    /// verification and return through the same code (PW-4).
    ///
    /// # Errors
    ///
    /// [`SignInError::Internal`] if the blocking task failed.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verification, SignInError> {
        let is_real = stored.is_some();
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let phc: Arc<str> = stored.map_or_else(|| self.dummy_hash.clone(), Arc::from);
        let secret = password.clone();
        let current = self.params.clone();
        self.run_limited(move || {
            let matched = verify_blocking(secret.expose().as_bytes(), &phc);
            let needs_rehash = !same_params(&phc, &current);
            Verification {
                matched: matched && is_real,
                needs_rehash: is_real && needs_rehash,
            }
        })
        .await
    }

    /// How many Argon2id verifications have run; lets tests show that an unknown user and a
    /// wrong password cost the same work.
    pub fn verifications_run(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks a new password against the policy: length, strength, names, history.
    ///
    /// `names` are the username, display name and organisation name; `history` holds the
    /// last N hashes, each verified (one Argon2id run per entry).
    ///
    /// # Errors
    ///
    /// [`PolicyViolation`] for the first rule broken; [`SignInError::Internal`] wrapped as
    /// `Err(Err(..))` if a history verification failed to run.
    pub async fn check_policy(
        &self,
        password: &Password,
        names: &[&str],
        history: &[String],
    ) -> Result<Result<(), PolicyViolation>, SignInError> {
        if let Err(violation) = self.check_text(password.expose(), names) {
            return Ok(Err(violation));
        }
        for earlier in history {
            if self.verify(password, Some(earlier)).await?.matched {
                return Ok(Err(PolicyViolation::Reused));
            }
        }
        Ok(Ok(()))
    }

    /// The rules that need no hashing, in the order a user would fix them.
    fn check_text(&self, text: &str, names: &[&str]) -> Result<(), PolicyViolation> {
        let length = text.chars().count();
        if length < self.min_length.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(PolicyViolation::TooShort);
        }
        if length > MAX_PASSWORD_CHARS {
            return Err(PolicyViolation::TooLong);
        }
        let lowered = text.to_lowercase();
        // Each name and each of its words of four or more letters: "Alice Hansen" refuses
        // passwords containing "alice" or "hansen" (PW-1 context words).
        let contains_name = names
            .iter()
            .flat_map(|name| {
                std::iter::once(name.to_lowercase()).chain(
                    name.split(|c: char| !c.is_alphanumeric())
                        .filter(|word| word.chars().count() >= 4)
                        .map(str::to_lowercase),
                )
            })
            .any(|word| !word.is_empty() && lowered.contains(&word));
        if contains_name {
            return Err(PolicyViolation::ContainsName);
        }
        let strength = zxcvbn::zxcvbn(text, names);
        if u8::from(strength.score()) < MIN_STRENGTH_SCORE {
            return Err(PolicyViolation::TooWeak);
        }
        Ok(())
    }

    /// Runs CPU-heavy work on the pool once one of its threads is free.
    async fn run_limited<T, F>(&self, work: F) -> Result<T, SignInError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone (a closed connection); its answer is then dropped.
            let _ = reply.send(work());
        });
        self.pool
            .queue
            .send(job)
            .map_err(|_| SignInError::Internal("password pool stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| SignInError::Internal("password job failed".to_owned()))
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// One thread per core, taking jobs from a shared queue until the queue's sender is dropped.
#[derive(Debug)]
struct Pool {
    queue: std::sync::mpsc::Sender<Job>,
}

impl Pool {
    fn start(threads: usize) -> Result<Self, SignInError> {
        let (queue, jobs) = std::sync::mpsc::channel::<Job>();
        let jobs = Arc::new(std::sync::Mutex::new(jobs));
        for index in 0..threads {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job, never while running it.
                        let next = match jobs.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|error| SignInError::Internal(format!("password thread: {error}")))?;
        }
        Ok(Self { queue })
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, SignInError> {
    let salt = random_bytes::<SALT_BYTES>()?;
    argon2(params)
        .hash_password_with_salt(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| SignInError::Internal(format!("argon2 hash: {error}")))
}

thread_local! {
    /// Each pool thread's Argon2 working memory, allocated on first use and reused: memory
    /// for verifications stays at one block per thread instead of depending on how the
    /// allocator treats a fresh 19 MiB allocation per call. It holds intermediate state of
    /// earlier computations until overwritten; it never leaves the process.
    static WORKING_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies under the parameters in the PHC string itself; a damaged string, or one of
/// another algorithm than Argon2id (Portner never stores others), never matches.
fn verify_blocking(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt.as_ref(), parsed.hash.as_ref()) else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(version), Ok(params)) = (version, Params::try_from(&parsed)) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    let block_count = params.block_count();
    let hasher = Argon2::new(Algorithm::Argon2id, version, params);
    let mut computed = vec![0_u8; expected.len()];
    let outcome = WORKING_MEMORY.with_borrow_mut(|blocks| {
        if blocks.len() != block_count {
            *blocks = vec![argon2::Block::default(); block_count];
        }
        hasher.hash_password_into_with_memory(
            password,
            salt.as_ref(),
            &mut computed,
            &mut blocks[..],
        )
    });
    outcome.is_ok() && constant_time_eq(&computed, expected.as_bytes())
}

/// Whether a PHC string was made with exactly the current algorithm and parameters.
fn same_params(phc: &str, current: &Params) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    let Ok(stored) = Params::try_from(&parsed) else {
        return false;
    };
    parsed.algorithm.as_str() == "argon2id"
        && stored.m_cost() == current.m_cost()
        && stored.t_cost() == current.t_cost()
        && stored.p_cost() == current.p_cost()
}

/// `N` bytes from the operating system's CSPRNG (through OpenSSL).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], SignInError> {
    let mut bytes = [0_u8; N];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|error| SignInError::Internal(format!("random source: {error}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap_settings() -> SignInSettings {
        SignInSettings {
            password_argon2_memory_kib: 8192,
            password_argon2_iterations: 1,
            ..SignInSettings::default()
        }
    }

    #[tokio::test]
    async fn hashes_verify_exactly_as_typed_and_record_their_parameters() {
        let passwords = Passwords::new(&cheap_settings()).unwrap();
        let password = Password::new(&"Ærø-kalender ".repeat(10)).unwrap();

        let phc = passwords.hash(&password).await.unwrap();

        assert!(phc.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{phc}");
        let right = passwords.verify(&password, Some(&phc)).await.unwrap();
        assert_eq!(
            right,
            Verification {
                matched: true,
                needs_rehash: false
            }
        );
        let trimmed = Password::new(password.expose().trim_end()).unwrap();
        assert!(
            !passwords
                .verify(&trimmed, Some(&phc))
                .await
                .unwrap()
                .matched
        );
    }

    #[tokio::test]
    async fn a_policy_change_asks_for_a_rehash_and_unknown_users_never_match() {
        let old = Passwords::new(&cheap_settings()).unwrap();
        let password = Password::new("correct horse battery staple").unwrap();
        let phc = old.hash(&password).await.unwrap();
        let stronger = SignInSettings {
            password_argon2_iterations: 2,
            ..cheap_settings()
        };
        let new = Passwords::new(&stronger).unwrap();

        let verification = new.verify(&password, Some(&phc)).await.unwrap();
        let unknown = new.verify(&password, None).await.unwrap();

        assert_eq!(
            verification,
            Verification {
                matched: true,
                needs_rehash: true
            }
        );
        assert_eq!(
            unknown,
            Verification {
                matched: false,
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn policy_refuses_short_weak_named_and_reused_passwords() {
        let passwords = Passwords::new(&cheap_settings()).unwrap();
        let names = ["alice.hansen", "Alice Hansen", "Testfirma ApS"];
        let check = |text: &str| passwords.check_text(text, &names);

        assert_eq!(check("kort"), Err(PolicyViolation::TooShort));
        assert_eq!(check("password123456"), Err(PolicyViolation::TooWeak));
        assert_eq!(check("aaaaaaaaaaaaaaaa"), Err(PolicyViolation::TooWeak));
        assert_eq!(
            check("Hansen-blå-cykel-1987!"),
            Err(PolicyViolation::ContainsName)
        );
        assert_eq!(
            check("testfirma vinter kaffe 42"),
            Err(PolicyViolation::ContainsName)
        );
        assert_eq!(check("violet tram lantern 1987"), Ok(()));
        let good = Password::new("violet tram lantern 1987").unwrap();
        let earlier = vec![passwords.hash(&good).await.unwrap()];
        let reused = passwords
            .check_policy(&good, &names, &earlier)
            .await
            .unwrap();
        assert_eq!(reused, Err(PolicyViolation::Reused));
    }

    #[test]
    fn passwords_are_capped_and_never_shown_in_debug() {
        assert!(Password::new(&"x".repeat(257)).is_err());
        assert!(Password::new("").is_err());
        let password = Password::new("hemmelig-kode-123").unwrap();
        assert!(!format!("{password:?}").contains("hemmelig"));
    }
}
