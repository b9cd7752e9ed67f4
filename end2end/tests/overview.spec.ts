import { expect, Page, test } from "@playwright/test";
import { andReload, ADMIN, hydrated, signIn } from "./helpers";

/** Clicks something that makes the page reload itself, and waits for the new page. */
test("a manager reads every KPI, changes range and project, follows a number to its deployments, prints and exports", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, ADMIN.username, ADMIN.password);
  await hydrated(page);

  // Every KPI has a card with its value, target, band and trend; the four keys have bands.
  const cards = page.locator("#kpi-cards .kpi-card");
  await expect(cards).toHaveCount(13);
  for (const id of ["failure_detection", "false_alerts", "alert_response", "uptime", "rollback_time", "mttr", "mtbf", "test_pass_rate", "coverage", "latency_p99", "error_rate", "satisfaction"]) {
    const card = page.locator(`#kpi-${id}`);
    await expect(card).toContainText("target");
    await expect(card.locator(".pill")).toHaveText(/good|at risk|off target|no data/);
    await expect(card.locator("svg.sparkline")).toHaveCount(1);
  }
  await expect(page.locator("#dora .kpi-card")).toHaveCount(4);
  // Definitions on hover.
  await expect(page.locator("#kpi-mttr h3")).toHaveAttribute("title", /Mean time to recovery/);

  // Project and range through the filters; the URL carries them so the view can be shared.
  const filters = page.locator("#overview-filters");
  await filters.getByLabel("Project").selectOption("shop");
  await filters.getByLabel("Range").selectOption("90");
  await filters.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/project=shop/);
  await expect(page).toHaveURL(/days=90/);
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("shop · production");
  await expect(page.locator("#range-words")).toContainText("last 90 days");
  const shared = page.url();

  // A custom range.
  await filters.getByLabel("Range").selectOption("");
  await filters.getByLabel("From").fill("2026-01-01");
  await filters.getByLabel("To").fill("2026-01-31");
  await filters.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/from=2026-01-01/);
  await expect(page.locator("#range-words")).toContainText("2026-01-01 to 2026-01-31");
  await page.goto(shared);
  await hydrated(page);

  // Follow the change failure rate down to the deployments behind it.
  const cfr = page.locator("#kpi-dora_change_failure_rate");
  const basis = (await cfr.locator(".muted.small").last().textContent())!;
  const failed = Number(basis.match(/(\d+) of/)![1]);
  expect(failed).toBeGreaterThan(0);
  await cfr.getByRole("link", { name: /behind this number/ }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Change failure rate");
  const rows = page.locator("#source-items tbody tr");
  await expect(rows).toHaveCount(failed);
  await rows.first().getByRole("link").click();
  await expect(page).toHaveURL(/\/deployments\/\d+$/);
  await page.goto(shared);
  await hydrated(page);

  // Export: the same numbers as CSV.
  const href = (await page.locator("#export-csv").getAttribute("href"))!;
  const res = await page.request.get(href);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("text/csv");
  const csv = await res.text();
  expect(csv.split("\n")[0]).toBe("project,environment,kpi,label,period,from,to,value,unit,target,at_risk,band");
  expect(csv).toContain("shop,production,dora_change_failure_rate,Change failure rate,total,");
  expect(csv.split("\n").filter((l) => l.includes(",test_pass_rate,")).length).toBe(46);

  // Print: the filters, forms and prompt are hidden; it fits on one page.
  await page.emulateMedia({ media: "print" });
  await expect(page.locator("#overview-filters")).toBeHidden();
  await expect(page.locator("#targets")).toBeHidden();
  await expect(page.locator("#kpi-cards")).toBeVisible();
  const pdf = await page.pdf({ format: "A4", printBackground: true });
  const pages = (pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g) ?? []).length;
  expect(pages).toBe(1);
  await page.emulateMedia({ media: "screen" });
});

test("people rate Gatehouse once a month, approvers record and resolve incidents, admins set targets", async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.goto("/?project=shop&days=30");
  await hydrated(page);

  // The monthly rating.
  const prompt = page.locator("#rating-prompt");
  await prompt.getByLabel("4").check();
  await prompt.getByPlaceholder("What would make it better?").fill("The overview answers my questions.");
  await prompt.getByRole("button", { name: "Send" }).click();
  await expect(page.locator("#rating-thanks")).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(page.locator("#rating-prompt")).toHaveCount(0);
  await expect(page.locator("#comments")).toContainText("The overview answers my questions.");

  // An incident caused by a deployment, then resolved.
  const incidents = page.locator("#incidents");
  await incidents.getByText("Record an incident").click();
  await incidents.getByLabel("What happened").fill("Login errors after the release");
  await incidents.getByLabel("Severity").selectOption("critical");
  const started = new Date(Date.now() - 20 * 60_000).toISOString().slice(0, 16);
  await incidents.getByLabel("Started at (UTC)").fill(started);
  const option = incidents.getByLabel("Caused by deployment").locator("option").nth(1);
  const deployment = (await option.getAttribute("value"))!;
  await incidents.getByLabel("Caused by deployment").selectOption(deployment);
  await andReload(page, () => incidents.getByRole("button", { name: "Record incident" }).click());
  const row = page.locator("#incident-table tr", { hasText: "Login errors after the release" });
  await expect(row).toContainText(`#${deployment}`);
  await andReload(page, () => row.getByRole("button", { name: "Resolve now" }).click());
  await expect(page.locator("#incident-table tr", { hasText: "Login errors after the release" })).toContainText(/after \d/);

  // Targets: percents are refused with the line that is wrong; fractions are saved.
  const editor = page.locator("#targets-text");
  await editor.fill("coverage 95% 90%");
  await page.getByRole("button", { name: "Save targets" }).click();
  await expect(page.locator("#targets .alert.error")).toContainText("line 1: `95%`: write fractions, not percents");
  await editor.fill("coverage 0.5 0.4");
  await andReload(page, () => page.getByRole("button", { name: "Save targets" }).click());
  await expect(page.locator("#kpi-coverage")).toContainText("target ≥ 50.0% (project)");
  await expect(page.locator("#kpi-coverage .pill")).toHaveText("good");
});
