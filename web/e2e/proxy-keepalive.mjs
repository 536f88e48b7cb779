// Loaded into `next start` by scripts/web-e2e.sh (NODE_OPTIONS=--import). Next's /api rewrite
// proxy (httpxy) keeps idle connections to oms in a keep-alive pool with no idle timeout, while oms
// (actix-web) closes a connection after 5 s idle without saying so (no `Keep-Alive: timeout=`
// header, which Node's agent would honour). A proxied request that takes a pooled connection just
// as oms closes it fails with ECONNRESET, and the proxy answers 500 "Internal Server Error" (about
// one request in 25 sent 4.99 to 5.01 s after the previous one). In production one load balancer
// serves both (README), so this only concerns this harness and `next dev`: here every agent created
// without an idle timeout drops its free sockets after 3 s, well before oms would.
import http from "node:http";

const IDLE_MS = 3000;
const Base = http.Agent;
http.Agent = class AgentWithIdleTimeout extends Base {
  constructor(options = {}) {
    super({ timeout: IDLE_MS, ...options });
  }
};
