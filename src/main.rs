//! The `suda` command: parse, set up diagnostics, run.

use std::io::Write as _;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser as _;

use suda::cli::{Cli, Command};
use suda::config::Config;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
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
    }
}

/// Help and version as clap prints them; a usage error in one line.
fn clap_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("suda: {first} (see --help)");
            ExitCode::from(2)
        }
    }
}

/// Diagnostics go to standard error as `suda: level: message`;
/// `SUDA_LOG` overrides the level (env_logger syntax).
fn init_logging(level: log::LevelFilter) {
    env_logger::Builder::new()
        .filter_level(level)
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
