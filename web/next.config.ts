import type { NextConfig } from "next";

/**
 * The API origin that `/api/*` is proxied to. Rewrites are fixed at build time, so set
 * `OMS_API_URL` when running `next build` (and `next dev`). In production one origin serves both
 * the app and `/api` (the compose file's load balancer), so the browser never leaves this origin:
 * the SameSite session cookies and the WebSocket `Origin` check both need that.
 */
const apiUrl = (process.env.OMS_API_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");

const nextConfig: NextConfig = {
  // The browser e2e (scripts/web-e2e.sh) builds into its own folder, so it never replaces a
  // developer's `.next` with a build whose /api rewrite points at a test server that is gone.
  distDir: process.env.NEXT_DIST_DIR || ".next",
  reactStrictMode: true,
  poweredByHeader: false,
  // Proxied Server-Sent Events must not be buffered by a compressor.
  compress: false,
  async rewrites() {
    return [{ source: "/api/:path*", destination: `${apiUrl}/api/:path*` }];
  },
};

export default nextConfig;
