//! The `oms` command line:
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
//! Configuration comes from the environment (see [`crate::config`]).

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::startup::{Application, deps, pg_settings};
use crate::telemetry;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    CreateAdmin {
        email: String,
    },
    /// Demo data; `orders`: that many generated orders on top (benchmarks).
    SeedDemo {
        orders: Option<u64>,
    },
    Healthcheck,
    Help,
}

pub const USAGE: &str = "usage: oms [serve | migrate | create-admin --email EMAIL | seed-demo [--orders N] | healthcheck]";

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut args = args.iter().map(String::as_str);
    let command = args.next().unwrap_or("serve");
    let rest: Vec<&str> = args.collect();
    let flag = |name: &str| -> Result<Option<String>, String> {
        match rest.iter().position(|a| *a == name) {
            None => Ok(rest
                .iter()
                .find_map(|a| a.strip_prefix(&format!("{name}=")).map(str::to_owned))),
            Some(i) => rest
                .get(i + 1)
                .map(|v| Some((*v).to_owned()))
                .ok_or_else(|| format!("{name} needs a value")),
        }
    };
    match command {
        "serve" => Ok(Command::Serve),
        "migrate" => Ok(Command::Migrate),
        "create-admin" => match flag("--email")? {
            Some(email) => Ok(Command::CreateAdmin { email }),
            None => Err("create-admin needs --email EMAIL".into()),
        },
        "seed-demo" => {
            let orders = flag("--orders")?
                .map(|n| {
                    n.parse()
                        .map_err(|_| "--orders must be a number".to_owned())
                })
                .transpose()?;
            Ok(Command::SeedDemo { orders })
        }
        "healthcheck" => Ok(Command::Healthcheck),
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => Err(format!("unknown command {other:?}")),
    }
}

/// Runs `oms` with the process's arguments and environment.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Healthcheck => healthcheck(),
        Command::Serve => serve(),
        command => actix_web::rt::System::new().block_on(run(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("oms: {error:#}");
            ExitCode::FAILURE
        }
    }
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
        Command::Serve | Command::Healthcheck | Command::Help => Ok(()),
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

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn commands() {
        assert_eq!(parse(&args(&[])), Ok(Command::Serve));
        assert_eq!(parse(&args(&["migrate"])), Ok(Command::Migrate));
        assert_eq!(
            parse(&args(&["create-admin", "--email", "a@b.co"])),
            Ok(Command::CreateAdmin {
                email: "a@b.co".into()
            })
        );
        assert_eq!(
            parse(&args(&["create-admin", "--email=a@b.co"])),
            Ok(Command::CreateAdmin {
                email: "a@b.co".into()
            })
        );
        assert!(parse(&args(&["create-admin"])).is_err());
        assert!(parse(&args(&["create-admin", "--email"])).is_err());
        assert_eq!(
            parse(&args(&["seed-demo", "--orders", "5"])),
            Ok(Command::SeedDemo { orders: Some(5) })
        );
        assert_eq!(
            parse(&args(&["seed-demo"])),
            Ok(Command::SeedDemo { orders: None })
        );
        assert!(parse(&args(&["seed-demo", "--orders", "x"])).is_err());
        assert_eq!(parse(&args(&["healthcheck"])), Ok(Command::Healthcheck));
        assert!(parse(&args(&["frobnicate"])).is_err());
    }
}
