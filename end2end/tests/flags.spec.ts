import { expect, Page, test } from "@playwright/test";
import { andReload, ADMIN, hydrated, signIn } from "./helpers";

test("a team lead rolls a flag out to 30% in staging and the evaluation API agrees, key by key", async ({ page, request }) => {
  test.setTimeout(120_000);
  // Each run has a fresh database, so the name is fixed and so are its keys' buckets (user-5
  // at 0.16 and user-6 at 0.29 are in at 30%; users 1 to 4 are out).
  const name = "holiday-banner";
  await signIn(page, ADMIN.username, ADMIN.password);

  // A read token for the service that polls the flags.
  await page.goto("/settings/projects");
  await hydrated(page);
  const create = page.locator("#create-token");
  await create.getByLabel("Project").selectOption("shop");
  await create.getByLabel("Name").fill(`flags-${name}`);
  await create.getByLabel("read").check();
  await create.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.locator("#new-token code.secret").textContent())!.trim();
  const auth = { Authorization: `Bearer ${secret}` };

  // The matrix holds the seeds' flags: the high-risk AATC system is on in staging and off in
  // production; Phase 4 ramps in production.
  await page.getByRole("link", { name: "Flags", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Feature flags");
  await page.getByRole("navigation", { name: "Projects" }).getByRole("link", { name: "shop" }).click();
  await expect(page).toHaveURL(/\/flags\?project=shop$/);
  const aatc = page.locator('#flag-matrix tr[data-flag="aatc-system"]');
  await expect(aatc.locator('td[data-env="staging"]')).toHaveText("on");
  await expect(aatc.locator('td[data-env="production"]')).toHaveText("off");
  await expect(page.locator('#flag-matrix tr[data-flag="phase-4-deployment"] td[data-env="production"]')).toContainText("↗");
  await hydrated(page);

  // A new flag starts off everywhere.
  const form = page.locator("#new-flag");
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("What it does").fill("The holiday banner");
  await page.locator("#flag-create").click();
  await expect(page).toHaveURL(/\/flags\/\d+$/);
  await hydrated(page);
  const flagUrl = page.url();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(name);
  const staging = page.locator("#env-staging");
  await expect(staging.locator("h2 .badge")).toHaveText("off");

  // On at 30% in staging.
  await staging.getByText("Change staging").click();
  await staging.getByLabel("State").selectOption("true");
  await staging.getByLabel(/^Rollout/).fill("30");
  await andReload(page, () => staging.getByRole("button", { name: "Save staging" }).click());
  await expect(page.locator("#env-staging h2 .badge")).toHaveText("30%");
  await expect(page.locator("#env-staging .setting-summary")).toHaveText("On for 30% of keys");
  await expect(page.locator("#flag-history tbody tr").first()).toContainText("staging: off → on at 30%");

  // The evaluation API says the same: the rules, then each key's decision as the page's check.
  const res = await request.get(`/api/v1/projects/shop/flags/staging`, { headers: auth });
  expect(res.status()).toBe(200);
  const body = await res.json();
  expect(body.flags[name]).toMatchObject({ enabled: true, rollout: 0.3, on_for_all: false });
  const etag = res.headers()["etag"];
  const again = await request.get(`/api/v1/projects/shop/flags/staging`, { headers: { ...auth, "If-None-Match": etag } });
  expect(again.status()).toBe(304);

  let ins = 0;
  for (const key of ["user-1", "user-2", "user-3", "user-4", "user-5", "user-6"]) {
    await page.goto(`${flagUrl}?key=${key}`);
    const row = page.locator('#key-verdicts tr[data-env="staging"]');
    await expect(row).toBeVisible();
    const pageSays = (await row.locator(".badge").textContent())!.trim() === "yes";
    const api = await (await request.get(`/api/v1/projects/shop/flags/staging?key=${key}`, { headers: auth })).json();
    expect(api.flags[name].on, key).toBe(pageSays);
    ins += pageSays ? 1 : 0;
    // Production was never set: off there.
    await expect(page.locator('#key-verdicts tr[data-env="production"] .badge')).toHaveText("no");
  }
  expect(ins).toBe(2);

  // The matrix shows it.
  await page.goto("/flags?project=shop");
  await expect(page.locator(`#flag-matrix tr[data-flag="${name}"] td[data-env="staging"]`)).toHaveText("30%");
});
