use std::io::Write;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load_error(file: Option<&Path>, pairs: &[(&str, &str)]) -> ConfigError {
    load(file, env(pairs), &Overrides::default()).unwrap_err()
}

#[test]
fn no_file_and_no_environment_give_the_embedded_default() {
    let (config, warnings) = load(None, Vec::new(), &Overrides::default()).unwrap();

    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.public_url, "http://localhost:8080");
    assert_eq!(config.saml_entity_id, config.public_url);
    assert!(config.data_dir.is_absolute() && config.data_dir.ends_with("portner-data"));
    assert_eq!(config.backend, Backend::Sqlite);
    assert!(
        config
            .database_url
            .expose()
            .ends_with("portner-data/portner.db?mode=rwc")
    );
    assert_eq!(config.log_format, LogFormat::Human);
    assert!(warnings.is_empty());
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let file = config_file("listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n");
    let environment = env(&[("PORTNER_LISTEN", "127.0.0.1:9100")]);

    let (from_env, _) = load(
        Some(file.path()),
        environment.clone(),
        &Overrides::default(),
    )
    .unwrap();
    let flags = Overrides {
        listen: Some("127.0.0.1:9200".into()),
        ..Overrides::default()
    };
    let (from_flags, _) = load(Some(file.path()), environment, &flags).unwrap();

    assert_eq!(from_env.listen.port(), 9100);
    assert_eq!(from_env.log_format, LogFormat::Json);
    assert_eq!(from_flags.listen.port(), 9200);
}

#[test]
fn unknown_key_in_the_file_is_an_error_naming_the_key() {
    let file = config_file("listen = \"127.0.0.1:9000\"\nlistne = \"oops\"\n");

    let error = load_error(Some(file.path()), &[]);

    assert!(error.to_string().contains("listne"), "{error}");
    assert!(!error.to_string().contains('\n'));
}

#[test]
fn wrong_type_in_the_file_or_environment_is_an_error_naming_the_key() {
    let file = config_file("database_max_connections = \"many\"\n");
    let from_file = load_error(Some(file.path()), &[]);
    let from_env = load_error(None, &[("PORTNER_DATABASE_MAX_CONNECTIONS", "many")]);

    assert_eq!(from_file.key, "database_max_connections");
    assert_eq!(from_env.key, "PORTNER_DATABASE_MAX_CONNECTIONS");
}

#[test]
fn toml_syntax_errors_name_the_file_and_line_on_one_line() {
    let file = config_file("listen = \"127.0.0.1:9000\"\nlog_format = \n");

    let error = load_error(Some(file.path()), &[]);

    assert!(error.key.ends_with("(line 2)"), "{error}");
    assert!(!error.to_string().contains('\n'));
}

#[test]
fn secrets_come_from_files_and_a_missing_file_is_an_error_naming_the_variable() {
    let key = crate::crypto::FieldCipher::generate_hex().unwrap();
    let secret_file = config_file(&format!("{key}\n"));
    let path = secret_file.path().to_str().unwrap();

    let (config, _) = load(
        None,
        env(&[("PORTNER_CPR_KEY_FILE", path)]),
        &Overrides::default(),
    )
    .unwrap();
    let missing = load_error(
        None,
        &[("PORTNER_CPR_KEY_FILE", "/nonexistent/portner/cpr.key")],
    );

    assert_eq!(config.cpr_key.unwrap().expose(), key);
    assert_eq!(missing.key, "cpr_key_file");
    assert!(missing.problem.contains("/nonexistent/portner/cpr.key"));
}

#[test]
fn secret_given_both_inline_and_as_file_is_refused() {
    let error = load_error(
        None,
        &[
            ("PORTNER_CPR_KEY", "00"),
            ("PORTNER_CPR_KEY_FILE", "/tmp/x"),
        ],
    );

    assert!(error.problem.contains("give one"), "{error}");
}

#[test]
fn unknown_portner_variables_warn_but_test_variables_do_not() {
    let environment = env(&[
        ("PORTNER_LISTN", "x"),
        ("PORTNER_TEST_POSTGRES_URL", "postgres://x"),
        ("HOME", "/root"),
    ]);

    let (_, warnings) = load(None, environment, &Overrides::default()).unwrap();

    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("PORTNER_LISTN"));
}

#[test]
fn a_listener_beyond_loopback_needs_an_explicit_public_url() {
    let missing = load_error(None, &[("PORTNER_LISTEN", "0.0.0.0:8080")]);
    let given = env(&[
        ("PORTNER_LISTEN", "0.0.0.0:8080"),
        ("PORTNER_PUBLIC_URL", "https://login.example.dk/"),
    ]);
    let (config, _) = load(None, given, &Overrides::default()).unwrap();

    assert_eq!(missing.key, "public_url");
    assert_eq!(config.public_url, "https://login.example.dk");
}

#[test]
fn postgres_without_a_configured_cpr_key_is_refused() {
    let error = load_error(
        None,
        &[("PORTNER_DATABASE_URL", "postgres://db.example.dk/portner")],
    );

    assert_eq!(error.key, "cpr_key");
}

#[test]
fn invalid_values_are_refused_with_the_key_named() {
    let cases = [
        ("PORTNER_LISTEN", "localhost", "listen"),
        ("PORTNER_PUBLIC_URL", "ftp://idp.example.dk", "public_url"),
        (
            "PORTNER_PUBLIC_URL",
            "https://idp.example.dk/?a=b",
            "public_url",
        ),
        ("PORTNER_DATABASE_URL", "mysql://x", "database_url"),
        (
            "PORTNER_DATABASE_MAX_CONNECTIONS",
            "0",
            "database_max_connections",
        ),
        ("PORTNER_CPR_KEY", "abcd", "cpr_key"),
        ("PORTNER_LOG_FORMAT", "xml", "log_format"),
        ("PORTNER_SAML_ENTITY_ID", "urn:portner", "saml_entity_id"),
        ("PORTNER_LOG_LEVEL", "loud", "log_level"),
        ("PORTNER_VERSION", "2", "version"),
    ];
    for (variable, value, key) in cases {
        let error = load_error(None, &[(variable, value)]);
        assert_eq!(error.key, key, "{variable}={value} gave {error}");
    }
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let url = "postgres://portner:hunter2-secret@db.example.dk/portner";
    let key = crate::crypto::FieldCipher::generate_hex().unwrap();
    let environment = env(&[("PORTNER_DATABASE_URL", url), ("PORTNER_CPR_KEY", &key)]);
    let (config, _) = load(None, environment, &Overrides::default()).unwrap();

    let debug = format!("{config:?}");

    assert!(
        !debug.contains("hunter2") && !debug.contains(&key[..16]),
        "{debug}"
    );
    assert_eq!(config.backend, Backend::Postgres);
}

#[test]
fn every_key_is_documented_in_the_configuration_reference() {
    let reference_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
    let reference = std::fs::read_to_string(reference_path).unwrap();

    for key in KEYS {
        assert!(
            reference.contains(&format!("`{}`", key.name)),
            "{} undocumented",
            key.name
        );
        assert!(
            reference.contains(&key.env_name()),
            "{} undocumented",
            key.env_name()
        );
        assert!(
            reference.contains(key.default),
            "default of {} undocumented",
            key.name
        );
    }
}

#[test]
fn editable_policies_are_read_and_set_within_their_ranges() {
    let settings = SignInSettings::default();
    for (key, low, high) in EDITABLE_POLICIES {
        assert!(settings.policy(key).is_some(), "{key}");
        let lowest = settings.with_policy(key, low).unwrap();
        assert_eq!(lowest.policy(key), Some(low), "{key}");
        assert!(settings.with_policy(key, high + 1).is_none(), "{key}");
        if low > 0 {
            assert!(settings.with_policy(key, low - 1).is_none(), "{key}");
        }
    }
    assert_eq!(settings.policy("password_argon2_memory_kib"), None);
    assert!(
        settings
            .with_policy("throttle_failures_per_minute", 30)
            .is_none()
    );
}
