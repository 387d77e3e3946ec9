//! Portner's integration suites, compiled as one test binary. Each module is one area; a
//! module whose tests must run on both databases uses [`on_both_backends!`].

// Helpers outside `#[test]` functions are test code too: a failed step fails the test.
#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

/// Defines each listed `async fn name(TestStore)` as two tests, `sqlite::name` and
/// `postgres::name`. The PostgreSQL one prints a skip line when no database is configured
/// (see `portner_tests::postgres_store`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(portner_tests::sqlite_store().await).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test_name = concat!(module_path!(), "::", stringify!($name));
                    if let Some(store) = portner_tests::postgres_store(test_name).await {
                        super::$name(store).await;
                    }
                }
            )*
        }
    };
}

mod audit;
mod audit_console;
mod evidence;
mod helpdesk;
mod notify;
mod rogue_key;
mod scim;
mod scim_groups;
mod signin;
mod sp_libraries;
mod sso;
mod store;
mod sync;
mod web;
