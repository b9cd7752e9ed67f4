import { defineConfig } from "@playwright/test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

// Each run serves the release build on a fresh SQLite database in a temp folder.
const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 3107);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-e2e-"));
export const ADMIN = { username: "admin", password: "e2e-admin-password" };

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "off",
    launchOptions: {
      // Debian's Chromium; never a downloaded browser.
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: {
    command: "target/release/gatehouse serve",
    cwd: "..",
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      DATABASE_URL: `sqlite://${path.join(dataDir, "gatehouse.db")}`,
      GATEHOUSE_ADDR: `127.0.0.1:${port}`,
      GATEHOUSE_ADMIN_USER: ADMIN.username,
      GATEHOUSE_ADMIN_PASSWORD: ADMIN.password,
      GATEHOUSE_LOG: "warn",
      // Every journey signs in from 127.0.0.1; the default (30 a minute) is for the world.
      GATEHOUSE_LOGIN_PER_MINUTE: "600",
    },
  },
});
