//! The `oms` binary's command line, run as a process. (Being an integration test of this package,
//! it also makes `cargo test` / nextest build `target/<profile>/oms` before any test runs: the
//! e2e resilience tests run that binary.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const OMS: &str = env!("CARGO_BIN_EXE_oms");

#[test]
fn help_prints_the_usage_and_exits_0() {
    let out = Command::new(OMS).arg("help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("usage: oms"), "{text}");
    assert!(text.contains("healthcheck"));
}

#[test]
fn an_unknown_command_exits_2_with_the_usage() {
    let out = Command::new(OMS).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("unknown command") && text.contains("usage: oms"),
        "{text}"
    );
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
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("JWT_SECRET") && !text.contains("short-secret"),
        "{text}"
    );
}
