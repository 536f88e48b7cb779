//! The `oms` command line (parsed by clap; `oms --help`, `oms <command> --help` and `oms --version`
//! need no database and no configuration):
//!
//! ```text
//! oms serve                         run the HTTP server (the default); SIGTERM/SIGINT stop it
//!                                   gracefully (see `crate::shutdown`)
//! oms migrate                       apply the database migrations
//! oms create-admin --email EMAIL    make EMAIL an admin (password: ADMIN_PASSWORD, else stdin)
//! oms seed-demo [--orders N]        load demo data (customers' password: DEMO_PASSWORD, default
//!                                   demo-password), plus N generated orders
//! oms healthcheck                   exit 0 when /healthz on BIND_ADDR answers 200
//! ```
//! Configuration comes from the environment (see [`crate::config`]), read only once the arguments
//! parsed. Bad arguments exit 2 with clap's usage message on standard error.

use std::ffi::OsString;
use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::error::{ContextKind, ContextValue};
use clap::{CommandFactory as _, Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::startup::{Application, deps, pg_settings};
use crate::telemetry;

/// The arguments of `oms`.
#[derive(Debug, Parser)]
#[command(
    name = "oms",
    version,
    about = "The order management system: its HTTP server and the tools around it.",
    after_help = "Settings come from environment variables (APP_ENV, DATABASE_URL, JWT_SECRET, \
                  BIND_ADDR, RUST_LOG, ...): see the README."
)]
pub struct Cli {
    /// What to do; `serve` when left out.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A command of `oms`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default); SIGTERM/SIGINT stop it gracefully
    Serve,
    /// Apply the database migrations
    Migrate,
    /// Make EMAIL an admin (password: ADMIN_PASSWORD, else read from standard input)
    CreateAdmin {
        /// The admin's email address
        #[arg(long, value_name = "EMAIL")]
        email: String,
    },
    /// Load the demo data (customers' password: DEMO_PASSWORD, default demo-password)
    SeedDemo {
        /// Also generate N orders on top (benchmarks)
        #[arg(long, value_name = "N")]
        orders: Option<u64>,
    },
    /// Exit 0 when /healthz on BIND_ADDR answers 200
    Healthcheck,
}

impl Cli {
    /// The command to run: `serve` when none was given.
    pub fn command_or_serve(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

/// Runs `oms` with the process's arguments and environment.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let command = match Cli::try_parse_from(&args) {
        Ok(cli) => cli.command_or_serve(),
        Err(error) => {
            // `--help` and `--version` print to standard output and exit 0; a usage error prints
            // to standard error and exits 2. Nothing was read from the environment yet.
            let error = with_usage(error, &args);
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let result = match command {
        Command::Healthcheck => healthcheck(),
        Command::Serve => serve(),
        command => actix_web::rt::System::new().block_on(run(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("oms: {error:#}");
            // A setting that cannot be used (it names the variable) is a usage error, like a bad
            // argument: status 2. Anything else that failed: 1.
            if error.downcast_ref::<crate::config::ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `error` with the usage of the command it is about: clap leaves the usage out of some errors
/// (an invalid value: `oms seed-demo --orders x`).
fn with_usage(mut error: clap::Error, args: &[OsString]) -> clap::Error {
    if !error.use_stderr() || error.get(ContextKind::Usage).is_some() {
        return error;
    }
    let mut cli = Cli::command();
    cli.build();
    let named = args
        .iter()
        .skip(1)
        .find(|arg| !arg.to_string_lossy().starts_with('-'))
        .and_then(|name| cli.find_subcommand(name))
        .cloned();
    let usage = match named {
        Some(mut subcommand) => subcommand.render_usage(),
        None => cli.render_usage(),
    };
    error.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
    error
}

/// Settings for the commands that need no JWT secret (a random one stands in).
fn tool_settings() -> anyhow::Result<Settings> {
    Ok(Settings::from_lookup(|name| {
        let value = std::env::var(name).ok();
        if name == "JWT_SECRET" && value.as_deref().is_none_or(|v| v.len() < 32) {
            return Some(uuid::Uuid::now_v7().simple().to_string().repeat(2));
        }
        value
    })?)
}

/// `oms serve`: logs and error reporting first (Sentry before the runtime starts, so its threads
/// see the client), then the server until SIGTERM/SIGINT, then a graceful shutdown and exit 0.
fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(settings.app_env);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    // Flushes queued events when dropped, at exit.
    let sentry = crate::error_reporting::init(&settings)?;
    if sentry.is_some() {
        tracing::info!("reporting panics and 5xx errors to Sentry");
    }
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_signalled().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let settings = tool_settings()?;
            telemetry::init(settings.app_env);
            let applied =
                adapters_postgres::run_migrations(settings.database.url.expose_secret()).await?;
            println!("{applied} migration(s) applied");
            Ok(())
        }
        Command::CreateAdmin { email } => create_admin(&email).await,
        Command::SeedDemo { orders } => seed_demo(orders).await,
        Command::Serve | Command::Healthcheck => Ok(()),
    }
}

async fn create_admin(email: &str) -> anyhow::Result<()> {
    let settings = tool_settings()?;
    telemetry::init(settings.app_env);
    let password = match std::env::var("ADMIN_PASSWORD") {
        Ok(password) if !password.is_empty() => password,
        _ => {
            eprint!("password for {email}: ");
            std::io::stderr().flush().ok();
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let pool = adapters_postgres::build_pool(&pg_settings(&settings))?;
    let auth = app::AuthService::new(deps(&settings, &pool).await?);
    match auth.create_admin(email, &password).await {
        Ok(user) => {
            println!("admin {} (id {}) ready", user.email, user.id);
            Ok(())
        }
        Err(app::auth::RegisterError::Validation(errors)) => bail!("{errors}"),
        Err(error) => bail!("{error}"),
    }
}

/// The demo catalogue, customers and orders (once), then `orders` generated orders. Demo
/// customers sign in with `DEMO_PASSWORD` (default `demo-password`).
async fn seed_demo(orders: Option<u64>) -> anyhow::Result<()> {
    use ports::PasswordHasher as _;
    let settings = tool_settings()?;
    telemetry::init(settings.app_env);
    let pool = adapters_postgres::build_pool(&pg_settings(&settings))?;
    let password = std::env::var("DEMO_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "demo-password".into());
    let hash = crate::auth::password::Argon2Hasher::new()
        .await?
        .hash(&password)
        .await?;
    let report = adapters_postgres::seed::seed_demo(&pool, &hash).await?;
    if report.already_seeded {
        println!("demo data already present: nothing seeded");
    } else {
        println!(
            "seeded {} products, {} customers ({}), {} orders",
            report.products,
            report.customers,
            adapters_postgres::seed::DEMO_CUSTOMERS.join(", "),
            report.orders
        );
    }
    if let Some(n) = orders {
        let written = adapters_postgres::seed::generate_orders(&pool, n).await?;
        println!("generated {written} orders");
    }
    Ok(())
}

/// `GET /healthz` on `BIND_ADDR` (an unspecified address means this host).
fn healthcheck() -> anyhow::Result<()> {
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let mut addr: SocketAddr = bind
        .to_socket_addrs()?
        .next()
        .context("BIND_ADDR resolves to nothing")?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    if head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200") {
        Ok(())
    } else {
        bail!("/healthz answered {:?}", String::from_utf8_lossy(&head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("oms").chain(args.iter().copied()))
            .map(Cli::command_or_serve)
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn commands_and_their_flags() {
        assert_eq!(parse(&[]).unwrap(), Command::Serve);
        assert_eq!(parse(&["serve"]).unwrap(), Command::Serve);
        assert_eq!(parse(&["migrate"]).unwrap(), Command::Migrate);
        let admin = Command::CreateAdmin {
            email: "a@b.co".into(),
        };
        assert_eq!(
            parse(&["create-admin", "--email", "a@b.co"]).unwrap(),
            admin
        );
        assert_eq!(parse(&["create-admin", "--email=a@b.co"]).unwrap(), admin);
        assert_eq!(
            parse(&["seed-demo", "--orders", "5"]).unwrap(),
            Command::SeedDemo { orders: Some(5) }
        );
        assert_eq!(
            parse(&["seed-demo", "--orders=7"]).unwrap(),
            Command::SeedDemo { orders: Some(7) }
        );
        assert_eq!(
            parse(&["seed-demo"]).unwrap(),
            Command::SeedDemo { orders: None }
        );
        assert_eq!(parse(&["healthcheck"]).unwrap(), Command::Healthcheck);
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        assert_eq!(kind(&["create-admin"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["create-admin", "--email"]), ErrorKind::InvalidValue);
        assert_eq!(
            kind(&["seed-demo", "--orders", "x"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["seed-demo", "--orders", "-1"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(kind(&["frobnicate"]), ErrorKind::InvalidSubcommand);
        assert_eq!(kind(&["migrate", "--force"]), ErrorKind::UnknownArgument);
        for args in [&["frobnicate"][..], &["seed-demo", "--orders", "x"]] {
            let error = parse(args).unwrap_err();
            assert!(error.use_stderr());
            assert_eq!(error.exit_code(), 2);
        }
    }

    #[test]
    fn every_usage_error_shows_the_usage_of_its_command() {
        let rendered = |args: &[&str]| {
            let args: Vec<OsString> = std::iter::once("oms")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect();
            with_usage(Cli::try_parse_from(&args).unwrap_err(), &args).to_string()
        };
        let text = rendered(&["seed-demo", "--orders", "x"]);
        assert!(text.contains("invalid value 'x'"), "{text}");
        assert!(text.contains("Usage: oms seed-demo [OPTIONS]"), "{text}");
        let text = rendered(&["bogus"]);
        assert_eq!(text.matches("Usage:").count(), 1, "{text}");
        assert!(text.contains("Usage: oms [COMMAND]"), "{text}");
        // Help is not an error: it stays as clap wrote it.
        let text = rendered(&["--help"]);
        assert!(text.starts_with("The order management system"), "{text}");
    }

    #[test]
    fn help_and_version_are_not_errors_of_usage() {
        for (args, expected) in [
            (&["--help"][..], ErrorKind::DisplayHelp),
            (&["-h"], ErrorKind::DisplayHelp),
            (&["seed-demo", "--help"], ErrorKind::DisplayHelp),
            (&["--version"], ErrorKind::DisplayVersion),
            (&["-V"], ErrorKind::DisplayVersion),
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.kind(), expected, "{args:?}");
            assert!(!error.use_stderr(), "{args:?} prints to standard output");
            assert_eq!(error.exit_code(), 0, "{args:?}");
        }
        let help = parse(&["seed-demo", "--help"]).unwrap_err().to_string();
        assert!(help.contains("--orders <N>"), "{help}");
        let help = parse(&["--help"]).unwrap_err().to_string();
        for command in [
            "serve",
            "migrate",
            "create-admin",
            "seed-demo",
            "healthcheck",
        ] {
            assert!(help.contains(command), "{command}: {help}");
        }
    }
}
