import { expect, test } from "@playwright/test";
import { ADMIN, hydrated, signIn, signOut } from "./helpers";

test("admin adds a viewer, who signs in and cannot reach admin pages", async ({ page }) => {
  const viewer = { username: `vic${Date.now() % 100000}`, password: "viewer-password-e2e" };

  await signIn(page, ADMIN.username, ADMIN.password);
  await expect(page.locator(".role-badge").first()).toHaveText("admin");
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("link", { name: /Users/ }).click();
  await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
  await hydrated(page);

  const form = page.locator("#add-user");
  await form.getByLabel("Username").fill(viewer.username);
  await form.getByLabel("Display name").fill("Vic Viewer");
  await form.getByLabel("Role").selectOption("viewer");
  await form.getByLabel("Initial password").fill(viewer.password);
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByText("User added.")).toBeVisible();
  const row = page.locator(`tr[data-username="${viewer.username}"]`);
  await expect(row).toContainText("Vic Viewer");
  await expect(row.locator("select")).toHaveValue("viewer");

  await signOut(page);
  await expect(page.getByText("You have signed out.")).toBeVisible();

  await signIn(page, viewer.username, viewer.password);
  await expect(page.locator(".role-badge").first()).toHaveText("viewer");
  // The UI hides what the role cannot do...
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" })).toHaveCount(0);
  // ...and the server refuses it when asked directly.
  const res = await page.goto("/settings/users");
  expect(res?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  const audit = await page.goto("/settings/audit");
  expect(audit?.status()).toBe(403);
});

test("a wrong password shows an error and signs nobody in", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await expect(page).toHaveURL(/\/login\?error=credentials/);
  const res = await page.goto("/settings");
  expect(page.url()).toMatch(/\/login\?next=%2Fsettings|\/login\?next=\/settings/);
  expect(res?.status()).toBe(200);
});

test("the audit log shows sign-ins and can be filtered", async ({ page }) => {
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.goto("/settings/audit?action=user.login");
  const table = page.locator("#audit-table");
  await expect(table.locator("tbody tr").first()).toContainText("user.login");
  await expect(table).not.toContainText("user.created");
  await expect(page.getByLabel("Action")).toHaveValue("user.login");
});

test("the console stays readable with JavaScript off", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.goto("/settings/users");
  await expect(page.locator("#users-table")).toContainText(ADMIN.username);
  await context.close();
});
