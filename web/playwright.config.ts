import { defineConfig } from "@playwright/test";
import { join } from "node:path";

/**
 * The browser tests (web/e2e/*.spec.ts), run by scripts/web-e2e.sh against a real `oms serve` and
 * `next start`, which it passes in the environment: WEB_URL, API_URL, ADMIN_EMAIL, ADMIN_PASSWORD and
 * CHROMIUM (the browser: Debian's chromium; Playwright never downloads one); for the Stripe project
 * also STRIPE_WEB_URL, STRIPE_API_URL, LOCALSTRIPE_URL and STRIPE_SECRET_KEY. Traces and screenshots of
 * failed tests, and the HTML report, go to E2E_WORK_DIR (target/web-e2e), out of git.
 */
const workDir = process.env.E2E_WORK_DIR ?? join(__dirname, "..", "target", "web-e2e");

export default defineConfig({
  testDir: "e2e",
  testMatch: "**/*.spec.ts",
  globalSetup: "./e2e/global-setup.ts",
  outputDir: join(workDir, "results"),
  // One worker: the dashboard's live figures are checked by exact differences (one more order, one
  // more paid), which another spec placing orders at the same moment would break; and the machine
  // also runs the Rust server and Next.js.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 90_000,
  globalTimeout: 15 * 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"], ["html", { outputFolder: join(workDir, "report"), open: "never" }]],
  use: {
    baseURL: process.env.WEB_URL,
    headless: true,
    viewport: { width: 1200, height: 900 },
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    acceptDownloads: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      timeout: 30_000,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
  projects: [
    { name: "chromium", use: { browserName: "chromium" }, testIgnore: "**/checkout-stripe.spec.ts" },
    // The Stripe checkout, against the second stack scripts/web-e2e.sh starts (a build with
    // NEXT_PUBLIC_PAYMENT_PROVIDER=stripe, oms with PAYMENT_PROVIDER=stripe, localstripe): its
    // spec skips itself when STRIPE_WEB_URL is not set.
    { name: "stripe", use: { browserName: "chromium", baseURL: process.env.STRIPE_WEB_URL }, testMatch: "**/checkout-stripe.spec.ts" },
  ],
});
