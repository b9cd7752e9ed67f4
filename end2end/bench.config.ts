import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// Browser benchmarks (not part of the test command): the release build served on a database
// a benchmark prepared, named by SLIDER_DB. See scripts/slider-bench.
const db = process.env.SLIDER_DB;
if (!db) throw new Error("SLIDER_DB: the SQLite file scripts/slider-bench prepares");
const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 3108);

export default defineConfig({
  ...base,
  testDir: "./bench",
  timeout: 300_000,
  use: { ...base.use, baseURL: `http://127.0.0.1:${port}` },
  webServer: {
    ...(base.webServer as object),
    url: `http://127.0.0.1:${port}/healthz`,
    timeout: 120_000,
    env: {
      DATABASE_URL: `sqlite://${db}`,
      GATEHOUSE_ADDR: `127.0.0.1:${port}`,
      GATEHOUSE_ADMIN_USER: "admin",
      GATEHOUSE_ADMIN_PASSWORD: "e2e-admin-password",
      GATEHOUSE_DEMO_DATA: "false",
      GATEHOUSE_LOG: "warn",
    },
  },
});
