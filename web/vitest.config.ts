import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Unit tests only: the browser specs (e2e/*.spec.ts) are Playwright's (scripts/web-e2e.sh).
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
