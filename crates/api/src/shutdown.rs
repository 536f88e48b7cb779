//! Graceful shutdown: on SIGTERM or SIGINT, `oms serve`
//!
//! 1. ends every real-time stream (WebSocket clients get close frame 1001 "going away", SSE
//!    streams end): they are long-lived and would otherwise hold the shutdown for its whole bound;
//! 2. stops accepting connections and lets in-flight requests finish within `SHUTDOWN_TIMEOUT`
//!    (then the remaining connections are dropped);
//! 3. stops the background tasks (listener, reconciler, housekeeping) and the metrics server,
//!    and exits 0.

use std::time::Instant;

use actix_web::dev::ServerHandle;
use adapters_ws::Hub;

/// Stops an [`crate::Application`] gracefully (see the module documentation).
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(crate) server: ServerHandle,
    pub(crate) metrics_server: Option<ServerHandle>,
    pub(crate) hub: Hub,
}

impl ShutdownHandle {
    /// Closes the real-time clients, then stops the server(s) gracefully; returns once the API
    /// server has stopped (its in-flight requests done, or the bound passed).
    pub async fn shutdown(&self) {
        let started = Instant::now();
        let clients = self.hub.shutdown();
        tracing::info!(clients, "shutting down: real-time clients closed");
        self.server.stop(true).await;
        if let Some(metrics) = &self.metrics_server {
            metrics.stop(true).await;
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "server stopped"
        );
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C); on other platforms, Ctrl-C only. Returns the signal's
/// name.
pub async fn signalled() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                tracing::error!("could not install the signal handlers: waiting for Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
