import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ADMIN, fixturesDir, hydrated, signIn } from "./helpers";

const fixtures = fixturesDir();

test("an admin sets up a project and token, CI reports a run, people see its failures", async ({ page, request }) => {
  const slug = `e2e-${Date.now() % 100000}`;
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.goto("/settings/projects");
  await expect(page.getByRole("heading", { name: "Projects and tokens" })).toBeVisible();
  await hydrated(page);

  const add = page.locator("#add-project");
  await add.getByLabel("Slug").fill(slug);
  await add.getByLabel("Name").fill("E2E service");
  await add.getByLabel("Repository URL").fill("https://github.com/acme/e2e");
  await add.getByRole("button", { name: "Add project" }).click();
  await expect(page.getByText("Project added.")).toBeVisible();
  await expect(page.locator(`tr[data-project="${slug}"]`)).toContainText("dev → staging → production");

  const create = page.locator("#create-token");
  await create.getByLabel("Project").selectOption(slug);
  await create.getByLabel("Name").fill("pipeline");
  await create.getByLabel("read").check();
  await create.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.locator("#new-token code.secret").textContent())!.trim();
  expect(secret).toMatch(/^gth_[0-9a-f]{64}$/);
  await expect(page.locator('tr[data-token="pipeline"]')).toContainText("ingest, read");

  // The runs list of the new project is open while CI reports: the run appears by itself.
  await page.goto(`/runs?project=${slug}`);
  await hydrated(page);
  await expect(page.getByText("No runs match.")).toBeVisible();

  const auth = { Authorization: `Bearer ${secret}` };
  const created = await request.post(`/api/v1/projects/${slug}/runs`, {
    headers: auth,
    data: {
      provider: "github", external_id: 4242, workflow: "ci", branch: "main",
      commit_sha: "c0ffee0123456789c0ffee0123456789c0ffee01", status: "running",
      started_at: new Date(Date.now() - 300_000).toISOString(),
      jobs: [{ name: "unit", status: "running", started_at: new Date(Date.now() - 290_000).toISOString() }],
    },
  });
  expect(created.status()).toBe(201);
  const run = await created.json();
  const junit = fs.readFileSync(path.join(fixtures, "junit/enricomi/junit-xml__junit.multiresult.xml"));
  const upload = await request.post(`/api/v1/runs/${run.id}/junit`, { headers: auth, data: junit });
  expect(upload.status()).toBe(201);
  expect((await upload.json()).failed).toBe(1);
  const lcov = fs.readFileSync(path.join(fixtures, "coverage/gcovr/simple__stdout__gcc-5.lcov"));
  expect((await request.post(`/api/v1/runs/${run.id}/coverage`, { headers: auth, data: lcov })).status()).toBe(201);
  const done = await request.patch(`/api/v1/runs/${run.id}`, {
    headers: auth,
    data: { status: "failure", finished_at: new Date().toISOString(), jobs: [{ name: "unit", status: "failure", finished_at: new Date().toISOString() }] },
  });
  expect(done.status()).toBe(200);

  const row = page.locator(`tr[data-run="${run.id}"]`);
  await expect(row).toBeVisible({ timeout: 20_000 });
  await expect(row).toContainText("failure");
  await expect(row).toContainText("63.6%");

  await row.getByRole("link").click();
  await expect(page.getByRole("heading", { name: /ci #4242/ })).toBeVisible();
  await expect(page.locator("#run-status")).toHaveText("failure");
  await expect(page.locator("#run-totals")).toContainText("Tests");
  const problems = page.locator("#problem-tests");
  await expect(problems.locator(".case")).toHaveCount(2);
  await expect(problems.locator(".case").first()).toContainText("error");
  await expect(page.locator("#jobs")).toContainText("unit");
  await expect(page.getByRole("link", { name: "c0ffee01" })).toHaveAttribute("href", /github\.com\/acme\/e2e\/commit\/c0ffee/);

  // A read-only viewer's token cannot write, and a bad report is refused with its line.
  const broken = await request.post(`/api/v1/runs/${run.id}/junit`, {
    headers: auth,
    data: fs.readFileSync(path.join(fixtures, "junit/enricomi/junit-xml__pytest__corrupt-xml.xml")),
  });
  expect(broken.status()).toBe(422);
  expect((await broken.json()).error).toContain("line 11");
});

test("demo runs fill the runs list and filters stay in the URL", async ({ page }) => {
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  await expect(page.getByRole("heading", { name: "Runs" })).toBeVisible();
  await expect(page.locator("#runs-table tbody tr")).toHaveCount(50);
  await page.locator("#f-project").selectOption("payments");
  await page.locator("#f-status").selectOption("failure");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/project=payments/);
  await expect(page).toHaveURL(/status=failure/);
  const rows = page.locator("#runs-table tbody tr");
  await expect(rows.first()).toContainText("payments");
  await expect(rows.first()).toContainText("failure");
  await page.goto("/runs?status=failure");
  await page.getByRole("link", { name: "Older runs →" }).click();
  await expect(page).toHaveURL(/before=\d+/);
  await expect(page).toHaveURL(/status=failure/);
  await expect(rows.first()).toContainText("failure");
});
