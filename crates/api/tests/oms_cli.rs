//! The `oms` binary's command line, run as a process. (Being an integration test of this package,
//! it also makes `cargo test` / nextest build `target/<profile>/oms` before any test runs: the
//! e2e resilience tests run that binary.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

const OMS: &str = env!("CARGO_BIN_EXE_oms");

/// `oms args...` with an empty environment but `PATH`: no `DATABASE_URL`, no `JWT_SECRET`, no
/// `APP_ENV`.
fn oms_bare(args: &[&str]) -> Output {
    let mut command = Command::new(OMS);
    command.args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn help_lists_the_commands_on_stdout_and_exits_0_without_any_configuration() {
    for args in [&["--help"][..], &["help"], &["-h"]] {
        let out = oms_bare(args);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(stdout.contains("Usage: oms"), "{args:?}: {stdout}");
        for command in [
            "serve",
            "migrate",
            "create-admin",
            "seed-demo",
            "healthcheck",
        ] {
            assert!(
                stdout.contains(command),
                "{args:?} lacks {command}: {stdout}"
            );
        }
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn a_commands_help_needs_no_database() {
    // Before clap, `oms seed-demo --help` ignored `--help` and tried to connect to PostgreSQL.
    for (args, expected) in [
        (&["seed-demo", "--help"][..], "--orders <N>"),
        (&["help", "seed-demo"], "--orders <N>"),
        (&["create-admin", "--help"], "--email <EMAIL>"),
        (&["migrate", "--help"], "Usage: oms migrate"),
        (&["serve", "--help"], "Usage: oms serve"),
    ] {
        let out = oms_bare(args);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(stdout.contains(expected), "{args:?}: {stdout}");
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn version_prints_the_package_version_and_exits_0() {
    let out = oms_bare(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("oms {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_arguments_exit_2_with_the_usage_on_stderr() {
    for (args, expected) in [
        (&["bogus"][..], "unrecognized subcommand 'bogus'"),
        (
            &["seed-demo", "--orders", "x"],
            "invalid value 'x' for '--orders <N>'",
        ),
        (&["create-admin"], "--email <EMAIL>"),
        (&["migrate", "--now"], "unexpected argument '--now'"),
    ] {
        let out = oms_bare(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.contains("Usage: oms"), "{args:?}: {stderr}");
        assert!(stderr.contains("try '--help'"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    // A port that was free a moment ago: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(OMS)
        .arg("healthcheck")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn serve_refuses_a_bad_setting_without_echoing_it() {
    let out = Command::new(OMS)
        .arg("serve")
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "short-secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("JWT_SECRET") && !text.contains("short-secret"),
        "{text}"
    );
}

#[test]
fn serve_with_stripe_names_each_missing_secret_and_exits_2() {
    for (present, missing) in [
        (None, "STRIPE_SECRET_KEY"),
        (
            Some(("STRIPE_SECRET_KEY", "sk_test_hidden_value")),
            "STRIPE_WEBHOOK_SECRET",
        ),
    ] {
        let mut command = Command::new(OMS);
        command
            .arg("serve")
            .env_clear()
            .env("APP_ENV", "development")
            .env("PAYMENT_PROVIDER", "stripe");
        if let Some((name, value)) = present {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{missing}");
        let text = String::from_utf8(out.stderr).unwrap();
        assert!(text.contains(missing), "{text}");
        assert!(!text.contains("sk_test_hidden_value"), "{text}");
    }
}
