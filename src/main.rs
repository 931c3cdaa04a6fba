//! The `suda` command: parse, set up diagnostics, run.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use suda::cli::{Cli, Command};
use suda::config::Config;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return suda::cli::report_usage_error("suda", &e),
    };
    match cli.command {
        Command::Serve(args) => {
            let level = args.verbosity.unwrap_or(if args.console.is_some() {
                log::LevelFilter::Warn
            } else {
                log::LevelFilter::Info
            });
            init_logging(level);
            let config = match Config::from_args(*args) {
                Ok(config) => config,
                Err(message) => {
                    eprintln!("suda: {message}");
                    return ExitCode::from(2);
                }
            };
            match suda::serve::serve(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("suda: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Connect(args) => suda::client::run(*args),
        Command::HashPassword => suda::passwords::hash_password_command(),
        Command::Fingerprint(args) => {
            let cert = match &args.tls_cert {
                Some(cert) => cert.clone(),
                None => suda::config::tls_dir(args.tls_dir.as_deref(), &args.log_file)
                    .join(suda::net::tls::certs::SELF_SIGNED_CERT),
            };
            match suda::net::tls::certs::fingerprint_of_file(&cert) {
                Ok(fingerprint) => {
                    println!("{fingerprint}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("suda: {e:#}");
                    if args.tls_cert.is_none() && !cert.exists() {
                        eprintln!(
                            "suda: `suda serve --tls-self-signed` makes it at its first start"
                        );
                    }
                    ExitCode::FAILURE
                }
            }
        }
        Command::Discover(args) => suda::client::discover::run(*args),
    }
}

/// Diagnostics go to standard error as `suda: level: message`;
/// `SUDA_LOG` overrides the level (env_logger syntax).
fn init_logging(level: log::LevelFilter) {
    env_logger::Builder::new()
        .filter_level(level)
        // rustls tells of every bad handshake (scanners, junk) at warn:
        // noise on a port open to the internet. The outcome is ours to log.
        .filter_module("rustls", log::LevelFilter::Error)
        // tungstenite logs every frame and close at debug and trace: the
        // WebSocket's outcome (a person joined, left) is ours to log.
        .filter_module("tungstenite", log::LevelFilter::Warn)
        .parse_env("SUDA_LOG")
        .format(|buf, record| {
            writeln!(
                buf,
                "suda: {}: {}",
                record.level().as_str().to_ascii_lowercase(),
                record.args()
            )
        })
        .init();
}
