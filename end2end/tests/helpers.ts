import { expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";

export const ADMIN = { username: "admin", password: "e2e-admin-password" };

/** Signs in through the form and waits for the overview. */
export async function signIn(page: Page, username: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
}

/** Waits until the WebAssembly bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** Clicks something that reloads the page (a form whose action reloads on success) and waits
 * for the new page to hydrate. */
export async function andReload(page: Page, click: () => Promise<void>) {
  const loaded = page.waitForEvent("load");
  await click();
  await loaded;
  await hydrated(page);
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
}

/** The shared real-world fixtures: `GATEHOUSE_FIXTURES_DIR`, else `shared/fixtures` beside an
 * ancestor of the repository, else the machine's `/work/shared/fixtures`. */
export function fixturesDir(): string {
  if (process.env.GATEHOUSE_FIXTURES_DIR) return process.env.GATEHOUSE_FIXTURES_DIR;
  let dir = path.resolve(__dirname, "..");
  for (;;) {
    for (const candidate of [path.join(dir, "shared/fixtures"), path.join(dir, "../shared/fixtures")]) {
      if (fs.existsSync(path.join(candidate, "README.md"))) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (fs.existsSync("/work/shared/fixtures/README.md")) return "/work/shared/fixtures";
  throw new Error("the shared fixtures were not found: set GATEHOUSE_FIXTURES_DIR");
}
