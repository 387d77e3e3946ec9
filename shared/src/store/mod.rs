//! The store: one [`Store`] over SQLite (the embedded default) or PostgreSQL.
//!
//! Both backends run through sqlx's `Any` driver with runtime queries and `$N` placeholders,
//! so every query is written once and the same test suite exercises both. The price is the
//! `Any` type subset (specs/dependencies.md §6.1): times are stored as epoch milliseconds,
//! booleans as integers, UUIDs and JSON as text. Where the dialects differ (column types, the
//! audit trigger), each backend has its own migration folder under `migrations/`.
//!
//! All access goes through a [`Tx`]. Writers open one with [`Store::begin`], make their
//! change, let higher crates add the audit event and outbox actions on the same transaction,
//! and commit: either everything is written or nothing is (DESIGN.md, data flow step 4).
//! On SQLite a writing transaction starts with `BEGIN IMMEDIATE`, so that a transaction which
//! reads before it writes waits for the write lock instead of failing on upgrade. Writers of
//! one process queue first on an in-process gate: SQLite lets one writer in at a time anyway,
//! and a writer that meets its lock is put to sleep by SQLite's busy handler in steps of up
//! to 100 ms, so without the gate the lock sits free while waiters sleep. The gate hands it
//! on the moment the previous transaction ends (measured in `docs/benchmarks.md`, SSO).

mod api_tokens;
mod approvals;
mod authenticators;
mod groups;
mod notifications;
mod organisations;
mod outbox;
mod policies;
mod proofing;
mod rights;
mod roles;
mod saml;
mod scim;
mod service_providers;
mod sessions;
mod signin;
mod sync;
mod users;

pub use approvals::OPEN_APPROVALS_LIMIT;
pub use notifications::PendingNotification;
pub use roles::SEARCH_LIMIT;
pub use sync::{ClaimedAction, OutboxSummary};

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::Backend;
use crate::crypto::{CryptoError, FieldCipher};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a caller waits for a pooled connection before the store reports itself unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule of the database refused the write (a username or CVR already taken).
    #[error("{entity} already exists")]
    Conflict {
        /// What already exists, e.g. `user`.
        entity: &'static str,
    },
    /// The write refers to something that does not exist (a user in an unknown organisation).
    #[error("{entity} refers to something that does not exist")]
    MissingReference {
        /// What was being written.
        entity: &'static str,
    },
    /// A stored value could not be read back: the row was altered outside Portner.
    #[error("stored {entity} is damaged: {detail}")]
    Corrupt {
        /// What was being read.
        entity: &'static str,
        /// Which column and rule; never the value.
        detail: String,
    },
    /// Encrypting or decrypting a personal field failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Migrating the schema failed.
    #[error("schema migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// Maps a database error, recognising uniqueness and reference violations for `entity`.
    pub fn from_database(entity: &'static str, error: sqlx::Error) -> Self {
        let kind = error
            .as_database_error()
            .map(|database_error| database_error.kind());
        match kind {
            Some(sqlx::error::ErrorKind::UniqueViolation) => Self::Conflict { entity },
            Some(sqlx::error::ErrorKind::ForeignKeyViolation) => Self::MissingReference { entity },
            _ => Self::Database(error),
        }
    }

    pub(crate) fn corrupt(entity: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            entity,
            detail: detail.to_string(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

/// A connection pool to Portner's database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    cipher: FieldCipher,
    /// SQLite only: the in-process queue of writers (see the module documentation).
    write_gate: Arc<Mutex<()>>,
}

impl Store {
    /// Connects to the database at `url`. For SQLite, the file is created if missing and put
    /// in WAL mode, so readers never block the writer.
    ///
    /// # Errors
    ///
    /// The database cannot be reached or opened.
    pub async fn connect(
        url: &str,
        backend: Backend,
        max_connections: u32,
        cipher: FieldCipher,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL is a property of the database file, so setting it once suffices.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Self {
            pool,
            backend,
            cipher,
            write_gate: Arc::new(Mutex::new(())),
        })
    }

    /// Brings the schema up to date. Safe to run on every start and from several replicas:
    /// sqlx takes a lock while it migrates.
    ///
    /// # Errors
    ///
    /// A migration failed, or the database holds migrations this build does not know.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Checks that the database answers; what `/readyz` reports.
    ///
    /// # Errors
    ///
    /// The database does not answer within the acquire timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Opens a transaction for a change.
    ///
    /// # Errors
    ///
    /// No connection could be had, or the database refused to begin.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let (inner, write_gate) = match self.backend {
            Backend::Sqlite => {
                let gate =
                    tokio::time::timeout(ACQUIRE_TIMEOUT, self.write_gate.clone().lock_owned())
                        .await
                        .map_err(|_| sqlx::Error::PoolTimedOut)?;
                (self.pool.begin_with("BEGIN IMMEDIATE").await?, Some(gate))
            }
            Backend::Postgres => (self.pool.begin().await?, None),
        };
        Ok(Tx {
            inner,
            backend: self.backend,
            cipher: self.cipher.clone(),
            _write_gate: write_gate,
        })
    }

    /// Opens a transaction for reading only; it never takes SQLite's write lock.
    ///
    /// # Errors
    ///
    /// No connection could be had.
    pub async fn read(&self) -> Result<Tx, StoreError> {
        let inner = self.pool.begin().await?;
        Ok(Tx {
            inner,
            backend: self.backend,
            cipher: self.cipher.clone(),
            _write_gate: None,
        })
    }

    /// Runs one statement outside any transaction, unprepared. For administration and tests
    /// only (creating a schema, dropping a trigger); `sql` must come from code, never input.
    ///
    /// # Errors
    ///
    /// The database refused the statement.
    pub async fn execute_unprepared(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One database transaction. Dropping it without [`Tx::commit`] rolls it back.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, sqlx::Any>,
    backend: Backend,
    cipher: FieldCipher,
    /// Held by SQLite write transactions until they end, so the next writer starts then.
    _write_gate: Option<OwnedMutexGuard<()>>,
}

impl Tx {
    /// Makes every write of the transaction durable.
    ///
    /// # Errors
    ///
    /// The database refused the commit; nothing was written.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await?;
        Ok(())
    }

    /// Discards every write of the transaction.
    ///
    /// # Errors
    ///
    /// The database failed while rolling back; it discards the writes regardless.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.inner.rollback().await?;
        Ok(())
    }

    /// The underlying connection, for crates that keep their own tables in the same
    /// transaction (the audit chain, the sync outbox worker).
    pub fn connection(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    /// Which database the transaction runs on, for the few statements whose dialects differ.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Epoch milliseconds, the store's representation of time.
pub fn millis(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

/// Reads a column, naming the entity if it is missing or of another type.
pub(crate) fn column<'row, T>(
    row: &'row AnyRow,
    name: &str,
    entity: &'static str,
) -> Result<T, StoreError>
where
    T: sqlx::Decode<'row, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name)
        .map_err(|error| StoreError::corrupt(entity, format!("{name}: {error}")))
}

/// Reads a text column and parses it into a domain type.
pub(crate) fn parsed<T>(row: &AnyRow, name: &str, entity: &'static str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = column(row, name, entity)?;
    text.parse()
        .map_err(|error| StoreError::corrupt(entity, format!("{name}: {error}")))
}

/// Reads an epoch-millisecond column as a time.
pub(crate) fn time(
    row: &AnyRow,
    name: &str,
    entity: &'static str,
) -> Result<DateTime<Utc>, StoreError> {
    Ok(crate::clock::from_millis(column(row, name, entity)?))
}
