import { mkdirSync, rmSync } from "node:fs";
import { SHOTS } from "./fixtures";

/** Refuses to run without the servers scripts/web-e2e.sh starts, and empties the screenshot folder. */
export default function globalSetup() {
  const missing = ["WEB_URL", "API_URL", "ADMIN_EMAIL", "ADMIN_PASSWORD"].filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(`e2e: ${missing.join(", ")} not set: run scripts/web-e2e.sh (make web-test)`);
  }
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
}
