//! The real `oms` binary as a child process, for the tests that need a process of their own: a
//! signal, a `kill -9`, its log.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters_postgres::PgProductRepository;
use adapters_postgres::testing::TestDb;
use domain::product::NewProduct;
use e2e::{JWT_SECRET, PASSWORD, json_of, plain_client};
use ports::ProductRepository as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `target/<profile>/oms`, next to this test binary's `deps/` folder (or `OMS_BIN`). `cargo test`
/// and nextest build it first: the api package's integration test `oms_cli` needs it.
pub(crate) fn oms_binary() -> PathBuf {
    if let Ok(path) = std::env::var("OMS_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let oms = profile_dir.join("oms");
    assert!(
        oms.exists(),
        "{} is missing: build it with `cargo build -p api --bin oms` (cargo test --workspace and \
         nextest build it), or point OMS_BIN at it",
        oms.display()
    );
    oms
}

/// A running `oms serve` and the lines it logged (JSON, one per line).
pub(crate) struct OmsProcess {
    pub(crate) child: Child,
    pub(crate) logs: Arc<Mutex<Vec<String>>>,
    pub(crate) port: u16,
    pub(crate) metrics_port: Option<u16>,
}

impl OmsProcess {
    /// Starts `oms serve` on a free port of 127.0.0.1 with production JSON logs, rate limits
    /// off, and `extra` settings; waits until it listens.
    pub(crate) fn start(database_url: &str, extra: &[(&str, &str)]) -> OmsProcess {
        let mut command = Command::new(oms_binary());
        command
            .arg("serve")
            .env_clear()
            .env("APP_ENV", "production")
            .env("RUST_LOG", "info")
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", JWT_SECRET)
            .env("COOKIE_SECURE", "false")
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("RATE_LIMIT_AUTH_PER_MINUTE", "0")
            .env("RATE_LIMIT_API_PER_SECOND", "0")
            .env("RATE_LIMIT_ORDERS_PER_MINUTE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in extra {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("oms serve starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let mut process = OmsProcess {
            child,
            logs,
            port: 0,
            metrics_port: None,
        };
        let wants_metrics = extra.iter().any(|(name, _)| *name == "METRICS_ADDR");
        let deadline = Instant::now() + Duration::from_secs(30);
        while process.port == 0 || (wants_metrics && process.metrics_port.is_none()) {
            assert!(
                Instant::now() < deadline,
                "oms serve did not start:\n{}",
                process.log_text()
            );
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("oms serve exited with {status}:\n{}", process.log_text());
            }
            process.port = process.logged_u64("listening", "port").unwrap_or(0) as u16;
            process.metrics_port = process
                .logged_u64("metrics listening", "metrics_port")
                .map(|p| p as u16);
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// The numeric field `field` of the first log line whose message is `message` (a JSON line,
    /// or development's text: `... api::startup: listening port=8080`).
    pub(crate) fn logged_u64(&self, message: &str, field: &str) -> Option<u64> {
        self.logs.lock().unwrap().iter().find_map(|line| {
            if let Ok(value) = serde_json::from_str::<Value>(line) {
                return (value["fields"]["message"] == message)
                    .then(|| value["fields"][field].as_u64())?;
            }
            let (_, fields) = line.split_once(&format!(": {message} "))?;
            fields
                .split_whitespace()
                .find_map(|pair| pair.strip_prefix(&format!("{field}="))?.parse().ok())
        })
    }

    /// How many logged lines contain `text`.
    pub(crate) fn lines_with(&self, text: &str) -> usize {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(text))
            .count()
    }

    pub(crate) fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET /api/orders/{id}` with the Bearer `token`: the order's JSON.
    pub(crate) async fn order(&self, token: &str, id: &str) -> Value {
        e2e::order_at(&self.url(""), token, id).await
    }

    pub(crate) fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, at most `bound`.
    pub(crate) fn wait_exit(&mut self, bound: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for OmsProcess {
    fn drop(&mut self) {
        // Only this child, by its own handle.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(crate) async fn product_in(db: &TestDb, stock: i64) -> i64 {
    PgProductRepository::new(db.pool())
        .create(
            &NewProduct {
                name: "Slow lamp".into(),
                description: None,
                price: 1_000,
                stock_quantity: stock,
                sku: format!("SKU-{}", uuid::Uuid::now_v7().simple()),
                image_url: None,
            },
            None,
        )
        .await
        .unwrap()
        .id
}

/// A customer registered over HTTP; returns its Bearer token.
pub(crate) async fn customer_token(base: &str) -> String {
    let email = format!("c-{}@example.com", uuid::Uuid::now_v7().simple());
    let client = plain_client();
    let response = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = client
        .post(format!("{base}/api/auth/token"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}
