import { expect, Page, test } from "@playwright/test";
import { andReload, ADMIN, hydrated, signIn } from "./helpers";

/** Clicks something that makes the page reload itself, and waits for the new page. */
test("a team lead starts the roadmap in one click, ticks the go-live checklist, marks a phase done and sees the criteria live", async ({ page }) => {
  test.setTimeout(150_000);
  await signIn(page, ADMIN.username, ADMIN.password);
  await hydrated(page);

  // The demo's plans are listed with their progress.
  await page.getByRole("link", { name: "Plans", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Rollout plans");
  await expect(page.locator("#plans tbody tr")).toHaveCount(2);
  await expect(page.locator("#plans")).toContainText("Ledger writer canary");
  await hydrated(page);

  // One click: the seeds' 10-phase roadmap for payments, phase 1 starting today.
  const form = page.locator("#new-plan");
  await form.getByLabel("Project").selectOption("payments");
  await page.locator("#plan-create").click();
  await expect(page).toHaveURL(/\/plans\/\d+$/);
  await hydrated(page);
  const url = page.url();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Production roadmap");
  await expect(page.locator("section.phase")).toHaveCount(11);
  await expect(page.locator("#timeline .gantt-row:not(.gantt-head)")).toHaveCount(11);
  await expect(page.locator("#timeline .gantt-today").first()).toBeVisible();
  await expect(page.locator('section.phase[data-position="0"] [data-status]')).toHaveText("Done");

  // Tick a deliverable of phase 1: who and when are kept.
  const p1 = page.locator('section.phase[data-position="1"]');
  await andReload(page, () => p1.getByRole("button", { name: "Tick EKS/GKE/AKS cluster created (3 nodes, t3.medium)" }).click());
  await expect(p1.locator("li.done")).toHaveCount(1);
  await expect(p1.locator("li.done")).toContainText("done by admin");
  await expect(p1.getByRole("heading", { level: 3, name: /Deliverables/ })).toHaveText("Deliverables (1 / 5)");

  // Phase 3 cannot be marked done while its go-live checklist is open.
  const p3 = page.locator('section.phase[data-position="3"]');
  await p3.getByLabel("Status").selectOption("done");
  await p3.getByRole("button", { name: "Set status" }).click();
  await expect(p3.locator(".alert.error")).toContainText("the go-live checklist is not complete (6 open: All nodes healthy");
  for (const item of ["All nodes healthy", "Ingress working", "SSL certificate valid", "Monitoring showing data", "Backup process verified", "No critical alerts"]) {
    await andReload(page, () => p3.getByRole("button", { name: `Tick ${item}` }).click());
  }
  await expect(p3.getByRole("heading", { level: 3, name: /Go-live checklist/ })).toHaveText("Go-live checklist (6 / 6)");
  await p3.getByLabel("Status").selectOption("done");
  await andReload(page, () => p3.getByRole("button", { name: "Set status" }).click());
  await expect(p3.locator("[data-status]")).toHaveText("Done");
  await expect(p3).toContainText("Done by admin");
  // Its ticked checklist is locked now.
  await expect(p3.getByRole("button", { name: "Untick Ingress working" })).toHaveCount(0);
  await expect(page.locator("#timeline .gantt-bar.status-done")).toHaveCount(2);

  // Criteria are judged live: a KPI criterion with a verdict and a link to the numbers behind it.
  const p8 = page.locator('section.phase[data-position="8"]');
  const rate = p8.locator("li", { hasText: "Error rate < 0.1%" });
  await expect(rate.locator(".badge")).toHaveText(/holds|fails|no data/);
  await expect(rate).toContainText("over the last 30 days");
  // A manual criterion is confirmed by a person.
  const nodes = p1.locator("li", { hasText: "All nodes Running" });
  await expect(nodes.locator(".badge")).toHaveText("to confirm");
  await andReload(page, () => nodes.getByRole("button", { name: "Confirm it holds" }).click());
  await expect(p1.locator("li", { hasText: "All nodes Running" }).locator(".badge")).toHaveText("holds");

  // A new criterion linked to a KPI; a percent is refused with what to write instead.
  const p2 = page.locator('section.phase[data-position="2"]');
  await p2.getByText("Add a success criterion").click();
  await p2.getByLabel("Criterion").fill("Error rate under 1%");
  await p2.getByLabel("KPI", { exact: true }).selectOption("error_rate");
  await p2.getByLabel("Comparator").selectOption("lt");
  await p2.getByLabel("Threshold").fill("1%");
  await p2.getByRole("button", { name: "Add criterion" }).click();
  await expect(p2.locator(".alert.error")).toContainText("not percents");
  await p2.getByLabel("Threshold").fill("0.01");
  await andReload(page, () => p2.getByRole("button", { name: "Add criterion" }).click());
  const added = page.locator('section.phase[data-position="2"] li', { hasText: "Error rate under 1%" });
  await expect(added).toContainText("Error rate < 1.0%");
  await added.getByRole("link", { name: "see it" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Error rate");

  // Everything survived: the plan reads the same from a fresh load.
  await page.goto(url);
  await hydrated(page);
  await expect(page.locator('section.phase[data-position="3"] [data-status]')).toHaveText("Done");
  await expect(page.locator("#plan-progress")).not.toHaveText("0%");
  await page.goto("/plans?project=payments");
  await expect(page.locator("#plans tbody tr")).toHaveCount(2);
  // The managers' overview lists the project's plans and how far they have come.
  await page.goto("/?project=payments");
  await expect(page.locator("#plans-panel li")).toHaveCount(2);
  await expect(page.locator("#plans-panel")).toContainText("2 of 11 phases done");
});
