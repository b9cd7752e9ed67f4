import { expect, Page, test } from "@playwright/test";
import { andReload, ADMIN, hydrated, signIn } from "./helpers";

/** Clicks something that makes the page reload itself, and waits for the new page. */
async function counts(page: Page) {
  const n = async (id: string) => Number((await page.locator(`#${id}`).textContent())!.replace(/\D+/g, ""));
  return { tp: await n("tp"), fp: await n("fp"), fn: await n("fn"), tn: await n("tn") };
}

test("a reviewer moves the threshold, compares the shadow model with the active one, promotes it and reads the drift", async ({ page, playwright }) => {
  test.setTimeout(120_000);
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Calibration" }).click();
  await expect(page.getByRole("heading", { level: 1, name: /Calibration/ })).toBeVisible();
  await page.goto("/calibration?project=shop&days=30");
  await hydrated(page);

  // The demo history: v1 is the seeds' rules model, active; v2 a learned one in shadow.
  const models = page.locator("#models-table");
  await expect(models.locator('tr[data-version="1"]')).toHaveAttribute("data-state", "active");
  await expect(models.locator('tr[data-version="2"]')).toHaveAttribute("data-state", "shadow");
  const samples = page.locator("#sample-counts");
  await expect(samples).toContainText("finished runs scored");
  const total = Number((await samples.locator("strong").first().textContent())!);
  expect(total).toBeGreaterThan(50);

  // The slider recomputes every figure in the browser: at 0 every run is alerted on…
  const slider = page.locator("#threshold-slider");
  await slider.fill("0");
  await expect(page.locator("#threshold-value")).toHaveText("0.00");
  let c = await counts(page);
  expect(c.fn).toBe(0);
  expect(c.tn).toBe(0);
  expect(c.tp + c.fp).toBe(total);
  await expect(page.locator("#rate-recall .value")).toHaveText("100.0%");
  await expect(page.locator("#rate-recall")).toHaveAttribute("data-meets", "yes");
  await expect(page.locator("#rate-fpr")).toHaveAttribute("data-meets", "no");
  // …and above every score on none: detection drops to zero and misses its target.
  await slider.fill("1");
  await expect(page.locator("#threshold-value")).toHaveText("1.00");
  c = await counts(page);
  expect(c.tp + c.fp).toBeLessThan(total);
  await expect(page.locator("#rate-recall")).toHaveAttribute("data-meets", "no");
  if (c.tp + c.fp === 0) await expect(page.locator("#rate-precision")).toHaveAttribute("data-meets", "none");
  await expect(page.locator("#rate-fpr")).toHaveAttribute("data-meets", "yes");
  // Terms are defined on the page.
  await expect(page.locator("#definitions")).toContainText("TP/(TP+FP), precision");

  // Compare the shadow model with the active one on the same runs.
  const filters = page.locator("#calibration-filters");
  await filters.getByLabel("Model").selectOption("2");
  await filters.getByLabel("Compare with").selectOption("1");
  await filters.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/version=2/);
  await hydrated(page);
  await expect(page.locator("#compare")).toContainText("v2 against v1 on the same runs");
  await expect(page.locator("#compare")).toContainText("ROC AUC");
  await expect(page.locator("#chart-roc svg")).toBeVisible();
  await expect(page.locator("#chart-reliability svg title").first()).toBeAttached();

  // Save a threshold for v2 (audited), then promote it; v1 stays one click away.
  await slider.fill("0.3");
  await andReload(page, () => page.getByRole("button", { name: "Save threshold 0.30 for v2" }).click());
  await expect(models.locator('tr[data-version="2"] td.num').first()).toHaveText("0.30");
  await andReload(page, () => page.locator("#promote-v2").click());
  await expect(models.locator('tr[data-version="2"]')).toHaveAttribute("data-state", "active");
  await expect(models.locator('tr[data-version="1"]')).toHaveAttribute("data-state", "retired");
  await expect(page.locator("#promote-v1")).toHaveText("Make v1 active again");

  // Drift: a row per feature with KS and PSI, against v2's training window.
  const drift = page.locator("#drift-table");
  await expect(drift.locator("tbody tr")).toHaveCount(10);
  await expect(drift.locator('tr[data-feature="change_lines"] td').nth(4)).not.toHaveText("–");
  await expect(page.locator("#drift")).toContainText("the training window");

  // Alerts are acknowledged with the time it took (the demo leaves some open).
  const open = page.locator("#alerts-table tr.open").first();
  await expect(open).toBeVisible();
  const id = await open.getAttribute("data-alert");
  await andReload(page, () => open.getByRole("button", { name: "Acknowledge" }).click());
  await expect(page.locator(`#alerts-table tr[data-alert="${id}"]`)).toContainText("admin after");

  // Exports: the report as CSV and each chart as SVG, for the signed-in session.
  const csvHref = await page.locator("#export-csv").getAttribute("href");
  const csv = await page.request.get(csvHref!);
  expect(csv.status()).toBe(200);
  expect(csv.headers()["content-type"]).toContain("text/csv");
  expect(await csv.text()).toContain("threshold,failure_detection,");
  // Without a session there is nothing to download.
  const anon = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  const anonymous = await anon.get(csvHref!, { maxRedirects: 0 });
  expect(anonymous.status()).toBe(303);
  expect(anonymous.headers()["location"]).toContain("/login");
  await anon.dispose();
  const svgHref = await page.locator("#chart-roc a[download]").getAttribute("href");
  const svg = await page.request.get(svgHref!);
  expect(svg.headers()["content-type"]).toContain("image/svg+xml");
  expect(await svg.text()).not.toContain("#0A0B0");

  // The audit log has the reviewer's decisions.
  await page.goto("/settings/audit");
  const log = page.locator("table code");
  await expect(log.filter({ hasText: "predictor.model_promoted" }).first()).toBeVisible();
  await expect(log.filter({ hasText: "predictor.threshold_saved" }).first()).toBeVisible();
  await expect(page.getByText("active now; v1 retired (one click from active)")).toBeVisible();
});
