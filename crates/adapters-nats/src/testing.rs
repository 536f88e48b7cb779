//! A NATS server with JetStream for tests: `NATS_TEST_URL`, else the one on 127.0.0.1:4222, else a
//! private `nats-server` started on a free port (Debian's package; `make test` installs it when
//! missing), kept for the test process's life.

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// A private server, when none answers on the usual address (kept for the process's life).
static PRIVATE: OnceLock<Option<(String, Child)>> = OnceLock::new();

/// Whether something listens on `address`.
fn answers(address: &str) -> bool {
    address.parse().is_ok_and(|addr| {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
    })
}

/// The URL of a NATS server with JetStream (see the module docs); panics with what to do when
/// there is none.
pub fn nats_url() -> String {
    if let Ok(url) = std::env::var("NATS_TEST_URL") {
        return url;
    }
    if answers("127.0.0.1:4222") {
        return "nats://127.0.0.1:4222".to_owned();
    }
    let private = PRIVATE.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("oms-nats-test-{}", std::process::id()));
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if answers(&format!("127.0.0.1:{port}")) {
                return Some((format!("nats://127.0.0.1:{port}"), child));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    });
    match private {
        Some((url, _)) => url.clone(),
        None => panic!(
            "no NATS server: none answers on 127.0.0.1:4222 and nats-server could not be started \
             (install Debian's nats-server, or set NATS_TEST_URL)"
        ),
    }
}
