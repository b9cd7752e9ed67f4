import { expect, test } from "@playwright/test";
import { ADMIN, hydrated, signIn } from "./helpers";

test("a team lead finds a flaky test, reads its history and quarantines it", async ({ page }) => {
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.goto("/runs");
  await page.getByRole("link", { name: "Flaky tests" }).click();
  await expect(page.getByRole("heading", { name: "Flaky tests" })).toBeVisible();
  await page.locator("#fl-project").selectOption("payments");
  await page.locator("#fl-days").selectOption("30");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/project=payments/);
  await expect(page).toHaveURL(/days=30/);
  const rows = page.locator("#flaky-table tbody tr");
  expect(await rows.count()).toBeGreaterThan(1);
  // The demo's team lead quarantined the flakiest test.
  await expect(page.locator("#flaky-table .badge", { hasText: "quarantined" })).toHaveCount(1);

  // Open a flaky test that is not quarantined yet.
  const row = rows.filter({ hasNot: page.locator(".badge") }).first();
  const name = (await row.getAttribute("data-test"))!;
  await row.getByRole("link").first().click();
  await expect(page.locator("#test-name")).toHaveText(name);
  expect(await page.locator("#test-history .strip .cell").count()).toBeGreaterThan(5);
  const chart = page.locator("#test-durations svg.chart");
  await expect(chart).toBeVisible();
  expect(await chart.locator(".hits title").count()).toBeGreaterThan(5);
  await expect(chart.locator(".hits title").first()).toHaveText(/^run \d+ · .* · (passed|failed|error|passed on retry|skipped) · /);

  await hydrated(page);
  const reason = `retries on the shared runner, e2e ${Date.now() % 100000}`;
  await page.getByLabel("Quarantine this test").fill(reason);
  await page.getByRole("button", { name: "Quarantine", exact: true }).click();
  await expect(page.locator("#quarantine-state")).toContainText(reason);
  await expect(page.locator("#quarantine-state")).toContainText("by admin");

  // It stays after a reload, and the audit log has it.
  await page.reload();
  await expect(page.locator("#quarantine-state")).toContainText(reason);
  await page.goto("/settings/audit?action=test.quarantined");
  await expect(page.locator("table")).toContainText(reason);

  // Released again.
  await page.goBack();
  await hydrated(page);
  await page.getByRole("button", { name: "Release from quarantine" }).click();
  await expect(page.locator("#quarantine-state")).toHaveCount(0);
  await expect(page.getByLabel("Quarantine this test")).toBeVisible();
});

test("a failed test on a run page leads to that test's history", async ({ page }) => {
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.goto("/runs?status=failure&project=shop");
  await page.locator("#runs-table tbody tr").first().getByRole("link").first().click();
  const failed = page.locator("#problem-tests .case").first();
  const testName = (await failed.locator("strong").textContent())!.trim();
  await failed.getByRole("link", { name: testName }).click();
  await expect(page.locator("#test-name")).toHaveText(testName);
  await expect(page.locator("#test-failures .case").first()).toBeVisible();
});
