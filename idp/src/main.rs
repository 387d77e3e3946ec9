//! The `portner` binary: parses the command line and hands over to [`portner_idp::cli::run`].

fn main() -> std::process::ExitCode {
    portner_idp::cli::run()
}
