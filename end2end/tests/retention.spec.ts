import { expect, test } from "@playwright/test";
import { andReload, ADMIN, hydrated, signIn } from "./helpers";

// The journeys share one database: this one purges nothing (every kind is set to the longest
// retention first) and puts the defaults back at the end. What a purge removes is tested in
// server/tests/it/retention.rs.
test("an admin changes retention, purges now, and the page hydrates under its nonce policy", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (msg) => {
    if (/Content.Security.Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
  });
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.goto("/settings");
  await page.getByRole("link", { name: /Retention/ }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Retention");
  await hydrated(page);

  // The seeds' defaults.
  await expect(page.locator("#retention-ci_artifacts")).toContainText("7 days");
  await expect(page.locator("#retention-runs")).toContainText("90 days");
  await expect(page.locator("#retention-rollback_results")).toContainText("365 days");
  await expect(page.locator("#retention-audit_log")).toContainText("forever");

  const inputs = page.locator("#retention-form input[type=number]");
  const defaults = await inputs.evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
  for (let i = 0; i < defaults.length; i++) await inputs.nth(i).fill("36500");
  await andReload(page, () => page.getByRole("button", { name: "Save retention" }).click());
  await expect(page.locator("#retention-webhook_log")).toContainText("36500 days");
  await expect(page.getByLabel("Webhook log")).toHaveValue("36500");

  await andReload(page, () => page.getByRole("button", { name: "Purge now" }).click());
  await expect(page.locator("#retention-runs")).toContainText(/0 removed .* ago/);

  for (let i = 0; i < defaults.length; i++) await inputs.nth(i).fill(defaults[i]);
  await andReload(page, () => page.getByRole("button", { name: "Save retention" }).click());
  await expect(page.locator("#retention-runs")).toContainText("90 days");
  await expect(page.locator("#retention-audit_log")).toContainText("forever");
  expect(violations, violations.join("\n")).toEqual([]);
});
