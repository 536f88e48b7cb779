//! A real HTTP receiver on loopback for webhook tests: an actix-web server on `127.0.0.1` that
//! records every request (headers, body, arrival) and answers as the test says.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub body: String,
    pub path: String,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// How to answer a request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub location: Option<String>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: Duration::ZERO,
            location: None,
        }
    }
}

type Behaviour = Arc<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Shared {
    requests: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

/// A running receiver. Dropping it does not stop it: call [`Receiver::stop`].
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    handle: Mutex<Option<ServerHandle>>,
}

impl Receiver {
    /// A receiver answering 200 to everything, on a free port.
    pub async fn start() -> Receiver {
        Receiver::start_with(|_, _| Reply::status(200)).await
    }

    /// A receiver answering with `behaviour(request, index)` (`index` counts from 0).
    pub async fn start_with(
        behaviour: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let shared = Shared {
            requests: Arc::new(Mutex::new(Vec::new())),
            behaviour: Arc::new(Mutex::new(Arc::new(behaviour))),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        let addr = listener.local_addr().expect("receiver address");
        let receiver = Receiver {
            addr,
            shared,
            handle: Mutex::new(None),
        };
        receiver.serve(listener);
        receiver
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .default_service(web::to(handle))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("receiver listens")
        .run();
        *self.handle.lock().unwrap_or_else(PoisonError::into_inner) = Some(server.handle());
        tokio::spawn(server);
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn count(&self) -> usize {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Answers from now on with `behaviour`.
    pub fn set_behaviour(
        &self,
        behaviour: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) {
        *self
            .shared
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(behaviour);
    }

    /// Stops listening (connections are refused until [`Receiver::restart`]).
    pub async fn stop(&self) {
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        let mut tries = 0;
        let listener = loop {
            match bind_reusable(self.addr) {
                Ok(listener) => break listener,
                Err(error) if tries < 50 => {
                    tries += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("rebinding {}: {error}", self.addr),
            }
        };
        self.serve(listener);
    }
}

/// A listener with `SO_REUSEADDR` (a restarted receiver takes its port back at once).
fn bind_reusable(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(128)?;
    listener.into_std()
}

async fn handle(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let received = Received {
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        path: request.path().to_owned(),
        at: Instant::now(),
    };
    let (reply, _) = {
        let behaviour = shared
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut requests = shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let index = requests.len();
        let reply = behaviour(&received, index);
        requests.push(received);
        (reply, index)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if let Some(location) = reply.location {
        response.insert_header(("location", location));
    }
    response.body("ok")
}
