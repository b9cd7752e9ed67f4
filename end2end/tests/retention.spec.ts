import { expect, test } from "@playwright/test";
import { andReload, ADMIN, hydrated, signIn } from "./helpers";

test("an admin shortens a retention, purges now, and the page hydrates under its nonce policy", async ({ page }) => {
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

  await page.getByLabel("Webhook log").fill("14");
  await andReload(page, () => page.getByRole("button", { name: "Save retention" }).click());
  await expect(page.locator("#retention-webhook_log")).toContainText("14 days");
  await expect(page.getByLabel("Webhook log")).toHaveValue("14");

  await andReload(page, () => page.getByRole("button", { name: "Purge now" }).click());
  await expect(page.locator("#retention-runs")).toContainText(/removed .* ago/);
  expect(violations, violations.join("\n")).toEqual([]);
});
