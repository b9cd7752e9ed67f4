import { APIRequestContext, expect, Page, test } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { andReload, ADMIN, fixturesDir, hydrated, signIn } from "./helpers";

const fixtures = fixturesDir();
const passing = fs.readFileSync(path.join(fixtures, "junit/enricomi/junit-xml__pytest__junit.gloo.standalone.xml"));
const failing = fs.readFileSync(path.join(fixtures, "junit/enricomi/junit-xml__pytest__junit.fail.xml"));

/** Clicks something that makes the page reload itself, and waits for the new page. */
test("a release held by a failing gate passes after a new run, two people approve it, its canary advances, and critical health rolls it back", async ({ page, browser, request }) => {
  test.setTimeout(240_000);
  const slug = `dep-${Date.now() % 100000}`;
  const lead = { username: `lead-${Date.now() % 100000}`, password: "lead-password-42" };
  await signIn(page, ADMIN.username, ADMIN.password);

  // An admin adds the project, a deploy token and a second approver.
  await page.goto("/settings/projects");
  await hydrated(page);
  const add = page.locator("#add-project");
  await add.getByLabel("Slug").fill(slug);
  await add.getByLabel("Repository URL").fill("https://github.com/acme/dep");
  await add.getByRole("button", { name: "Add project" }).click();
  await expect(page.getByText("Project added.")).toBeVisible();
  const create = page.locator("#create-token");
  await create.getByLabel("Project").selectOption(slug);
  await create.getByLabel("Name").fill("deployer");
  await create.getByLabel("deploy").check();
  await create.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.locator("#new-token code.secret").textContent())!.trim();
  const auth = { Authorization: `Bearer ${secret}` };

  await page.goto("/settings/users");
  await hydrated(page);
  const user = page.locator("#add-user");
  await user.getByLabel("Username").fill(lead.username);
  await user.getByLabel("Display name").fill("Second Approver");
  await user.getByLabel("Role").selectOption("approver");
  await user.getByLabel("Initial password").fill(lead.password);
  await user.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByText("User added.")).toBeVisible();

  // Rules: staging without gates; production with three gates and no wait timer.
  await page.goto(`/settings/environments?project=${slug}`);
  await hydrated(page);
  const staging = page.locator('section.env-rules[data-environment="staging"]');
  await staging.locator("textarea[name=gates]").fill("");
  await andReload(page, () => staging.getByRole("button", { name: "Save gates" }).click());
  const prod = page.locator('section.env-rules[data-environment="production"]');
  await prod.locator("textarea[name=gates]").fill(
    "test_pass_rate higher 0.98 0.95 2 key\np95_ms lower 200 500 1\ncritical_findings lower 0 0 1 key",
  );
  await andReload(page, () => prod.getByRole("button", { name: "Save gates" }).click());
  await prod.getByLabel("Wait timer after approval (seconds)").fill("0");
  await andReload(page, () => prod.getByRole("button", { name: "Save protection" }).click());
  await expect(prod.getByLabel("Wait timer after approval (seconds)")).toHaveValue("0");
  await expect(prod.locator("textarea[name=gates]")).toHaveValue(/critical_findings lower 0 0 1 key/);
  await expect(staging.locator("textarea[name=gates]")).toHaveValue("");

  const approver = await browser.newPage();
  await signIn(approver, lead.username, lead.password);

  // 1.0.0 goes all the way first, so there is something to roll back to.
  const a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
  await ciRun(request, auth, slug, 100, 1, a, passing);
  const staged = await requestDeployment(request, auth, slug, "staging", "1.0.0", a);
  await report(request, auth, staged, { kind: "succeeded" });
  const first = await requestDeployment(request, auth, slug, "production", "1.0.0", a);
  await page.goto(`/deployments/${first}`);
  await hydrated(page);
  await tickChecklist(page);
  await approve(page, approver, first);
  await report(request, auth, first, { kind: "succeeded" });

  // 1.1.0: its tests fail, so production holds it at the gates.
  const b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
  await ciRun(request, auth, slug, 101, 1, b, failing);
  const staged2 = await requestDeployment(request, auth, slug, "staging", "1.1.0", b);
  await report(request, auth, staged2, { kind: "succeeded" });
  const id = await requestDeployment(request, auth, slug, "production", "1.1.0", b, [
    { traffic: 0.25, pause_s: 0 }, { traffic: 0.5, pause_s: 0 }, { traffic: 1.0, pause_s: 0 },
  ]);
  await page.goto(`/deployments/${id}`);
  await hydrated(page);
  await expect(page.locator("#deploy-state")).toHaveAttribute("data-state", "evaluating");
  await expect(page.locator('#gates-table tr[data-gate="test_pass_rate"]')).toHaveAttribute("data-level", "fail");
  await expect(page.locator("#gate-score")).toContainText("fail");
  await expect(page.locator("#deploy-hold")).toContainText("Test pass rate 75.0%");
  await expect(page.locator("#notes")).toContainText("checkout: release 1.1.0");
  await expect(page.locator("#notes")).toContainText("Changes since 1.0.0");

  // The re-run passes: the open page updates itself and the gate passes.
  await ciRun(request, auth, slug, 101, 2, b, passing);
  await expect(page.locator('#gates-table tr[data-gate="test_pass_rate"]')).toHaveAttribute("data-level", "pass", { timeout: 20_000 });
  await hydrated(page);

  // The second approver sees it in the queue, with the badge.
  await approver.goto("/approvals");
  await expect(approver.locator("#approvals-badge")).toBeVisible();
  await expect(approver.locator(`#queue-table tr[data-deployment="${id}"]`)).toContainText("1.1.0");

  await tickChecklist(page);
  await expect(page.locator("#deploy-state")).toHaveAttribute("data-state", "awaiting_approval");
  await approve(page, approver, id);

  // The deployer drives the canary; the page follows.
  for (const [step, traffic] of [[0, "25%"], [1, "50%"], [2, "100%"]] as const) {
    await report(request, auth, id, { kind: "progress", step });
    await expect(page.locator("#canary-traffic")).toHaveText(traffic, { timeout: 20_000 });
  }
  await report(request, auth, id, { kind: "succeeded" });
  await expect(page.locator("#deploy-state")).toHaveAttribute("data-state", "succeeded", { timeout: 20_000 });

  // Health crosses the critical threshold: Gatehouse rolls back to 1.0.0 on its own.
  const health = async (samples: object[]) => {
    const res = await request.post(`/api/v1/deployments/${id}/health`, { headers: auth, data: { samples } });
    expect(res.status()).toBe(200);
    return res.json();
  };
  expect((await health([{ key: "h1", error_rate: 0.0004, p95_ms: 150, availability: 0.9999 }])).rollback_id).toBeNull();
  const out = await health([{ key: "h2", error_rate: 0.07, p95_ms: 820, availability: 0.97 }]);
  const rollback = out.rollback_id as number;
  expect(rollback).toBeGreaterThan(id);
  await expect(page.locator("#monitoring svg.chart.health")).toBeVisible({ timeout: 20_000 });
  await expect(page.locator("#monitoring svg title").filter({ hasText: "Error rate 7.0% (critical)" })).toHaveCount(1);
  await report(request, auth, rollback, { kind: "succeeded" });
  await expect(page.locator("#deploy-state")).toHaveAttribute("data-state", "rolled_back", { timeout: 20_000 });
  await page.locator("#deploy-rolled-back a").click();
  await expect(page.locator("#deploy-rollback-of")).toContainText(`deployment #${id}`);
  await expect(page.locator("#rollback-sla")).toBeVisible();
  await expect(page.locator("#deploy-rollback-of")).toContainText("within the 15 min SLA");

  // The timeline says what is live where, and the history shows it all.
  await page.goto(`/deployments?project=${slug}`);
  await expect(page.locator('#live li[data-environment="production"] .version')).toHaveText("1.0.0");
  await expect(page.locator('#live li[data-environment="staging"] .version')).toHaveText("1.1.0");
  await expect(page.locator(`#deployments-table tr[data-deployment="${id}"]`)).toContainText("Rolled back");
  await expect(page.locator(`#deployments-table tr[data-deployment="${id}"]`)).toContainText(lead.username);
  await page.goto(`/releases?project=${slug}&from=1.0.0&to=1.1.0`);
  await expect(page.locator("#comparison")).toContainText("1 commit ·");
  await approver.close();
});

async function ciRun(request: APIRequestContext, auth: object, slug: string, number: number, attempt: number, commit: string, junit: Buffer) {
  const created = await request.post(`/api/v1/projects/${slug}/runs`, {
    headers: auth,
    data: {
      provider: "github", external_id: number, attempt, workflow: "ci", branch: "main", commit_sha: commit,
      status: "running", started_at: new Date(Date.now() - 120_000).toISOString(),
      performance: { p95_ms: 140, error_rate: 0.0002 }, security: { critical: 0, high: 1 },
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  const run = await created.json();
  expect((await request.post(`/api/v1/runs/${run.id}/junit`, { headers: auth, data: junit })).status()).toBe(201);
  const done = await request.patch(`/api/v1/runs/${run.id}`, {
    headers: auth, data: { status: "success", finished_at: new Date().toISOString() },
  });
  expect(done.status()).toBe(200);
}

async function requestDeployment(request: APIRequestContext, auth: object, slug: string, environment: string, version: string, commit: string, canary?: object[]) {
  const res = await request.post(`/api/v1/projects/${slug}/deployments`, {
    headers: auth,
    data: {
      environment, version, commit, ref: "main", strategy: canary ? "canary" : "rolling", canary_steps: canary,
      commits: [{ sha: commit, message: `feat(checkout): release ${version}`, author: "noor.dev", committed_at: Date.now() - 60_000 }],
    },
  });
  expect([200, 201], await res.text()).toContain(res.status());
  return (await res.json()).id as number;
}

async function report(request: APIRequestContext, auth: object, id: number, event: object) {
  const res = await request.post(`/api/v1/deployments/${id}/events`, { headers: auth, data: event });
  expect(res.status(), await res.text()).toBe(200);
}

/** Ticks every open checklist item on the deployment page open in `page`. */
async function tickChecklist(page: Page) {
  const items = page.locator("#checklist li");
  const count = await items.count();
  for (let i = 0; i < count; i++) {
    const open = page.locator("#checklist li:not(.done)").first();
    await andReload(page, () => open.getByRole("button", { name: "Tick" }).click());
  }
  await expect(page.locator("#checklist li.done")).toHaveCount(count);
}

/** The admin (`page`) approves, then the second approver: the deployment starts. */
async function approve(page: Page, approver: Page, id: number) {
  await andReload(page, () => page.locator("#approve").click());
  await expect(page.locator("#approval-count")).toContainText("1 of 2");
  await expect(page.locator("#approve-why")).toContainText("already decided");
  await approver.goto(`/deployments/${id}`);
  await hydrated(approver);
  await approver.locator("#approve-comment").fill("checked the gates and the notes");
  await andReload(approver, () => approver.locator("#approve").click());
  await expect(approver.locator("#deploy-state")).toHaveAttribute("data-state", "in_progress");
  await expect(page.locator("#deploy-state")).toHaveAttribute("data-state", "in_progress", { timeout: 20_000 });
  await hydrated(page);
}
