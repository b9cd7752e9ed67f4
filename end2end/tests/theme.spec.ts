import { expect, test } from "@playwright/test";
import { ADMIN, hydrated, signIn } from "./helpers";

test("the theme toggle switches without a reload and persists", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await signIn(page, ADMIN.username, ADMIN.password);
  await hydrated(page);
  const html = page.locator("html");
  await expect(html).not.toHaveAttribute("data-theme", "dark");

  const posts: string[] = [];
  page.on("request", (r) => { if (r.method() === "POST") posts.push(r.url()); });
  await page.getByRole("button", { name: "Switch between light and dark theme" }).click();
  await expect(html).toHaveAttribute("data-theme", "dark");
  expect(posts, "hydrated toggle works in the browser, without a form post").toEqual([]);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe("rgb(15, 18, 22)");

  await page.reload();
  await expect(html).toHaveAttribute("data-theme", "dark");
  await page.goto("/runs");
  await expect(html).toHaveAttribute("data-theme", "dark");

  await hydrated(page);
  await page.getByRole("button", { name: "Switch between light and dark theme" }).click();
  await expect(html).toHaveAttribute("data-theme", "light");
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", "light");
});

test("every area of the menu shows its page", async ({ page }) => {
  await signIn(page, ADMIN.username, ADMIN.password);
  for (const name of ["Releases", "Deployments", "Approvals", "Calibration", "Plans", "Flags"]) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: new RegExp(`^${name}\\b`) }).click();
    await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  }
  const res = await page.goto("/no/such/page");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});
