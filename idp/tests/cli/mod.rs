//! What the command-line tests share: the real `portner` binary run against a data folder,
//! and its output as one text.
//!
//! Each test binary that says `mod cli;` gets its own copy and uses only part of it.

#![allow(dead_code, reason = "each test binary uses a subset of these helpers")]

use std::path::Path;
use std::process::{Command, Output};

/// `portner --data-dir DATA ARGS…` with a fixed public URL and quiet logs.
pub fn portner(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portner"))
        .arg("--data-dir")
        .arg(data)
        .env("PORTNER_PUBLIC_URL", "https://idp.testfirma.dk")
        .env("PORTNER_LOG_LEVEL", "warn")
        .args(args)
        .output()
        .unwrap()
}

/// Standard output followed by standard error.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `portner` and fails the test unless it succeeds; returns its output.
pub fn succeeds(data: &Path, args: &[&str]) -> String {
    let output = portner(data, args);
    assert!(output.status.success(), "{args:?}: {}", text(&output));
    text(&output)
}
