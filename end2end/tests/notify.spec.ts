import { expect, Page, test } from "@playwright/test";
import * as crypto from "node:crypto";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { andReload, ADMIN, hydrated, signIn } from "./helpers";

type Hit = { headers: http.IncomingHttpHeaders; body: string };

/** A local receiver that records every request and answers 200. */
async function recorder(): Promise<{ url: string; hits: Hit[]; close: () => void }> {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hits.push({ headers: req.headers, body });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/release`, hits, close: () => server.close() };
}

test("an admin adds a signed webhook channel, sends it a test, and sees it delivered in the log", async ({ page }) => {
  test.setTimeout(90_000);
  const receiver = await recorder();
  const key = "e2e-signing-key-never-shown";
  try {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto("/settings");
    await page.getByRole("link", { name: /Notifications/ }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Notifications");
    await hydrated(page);

    // The demo's channels from the seeds are there, disabled, with their history.
    await expect(page.locator('#channels tr[data-channel="slack-deployments"]')).toContainText("disabled");
    await expect(page.locator('#channels tr[data-channel="email-critical"]')).toContainText("Email (SMTP)");
    await expect(page.locator("#deliveries tbody tr").first()).toBeVisible();

    // A webhook channel with a signing key.
    await page.locator("#add-channel").click();
    const form = page.locator("#channel-form");
    await form.getByLabel("Name").fill("release-hook");
    await form.getByLabel("Kind").selectOption("webhook");
    await form.getByLabel("url (required)").fill(receiver.url);
    await form.getByLabel("hmac_key").fill(key);
    await andReload(page, () => page.locator("#channel-create").click());
    const row = page.locator('#channels tr[data-channel="release-hook"]');
    await expect(row).toContainText("hmac_key set");
    await expect(row).toContainText(receiver.url);
    expect(await page.content()).not.toContain(key);

    // Send a test: the outbox delivers it within seconds, and the log says so.
    await andReload(page, () => row.getByRole("button", { name: "Send test" }).click());
    const delivery = page.locator('#deliveries tr[data-channel="release-hook"]').first();
    await expect(delivery).toBeVisible();
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('#deliveries tr[data-channel="release-hook"]').first().getAttribute("data-status");
        },
        { timeout: 20_000, intervals: [500, 1000] },
      )
      .toBe("delivered");
    await expect(page.locator('#deliveries tr[data-channel="release-hook"]').first()).toContainText("Test message to release-hook");
    await expect(page.locator('#deliveries tr[data-channel="release-hook"]').first()).toContainText("200");

    // The receiver got one signed request.
    expect(receiver.hits).toHaveLength(1);
    const hit = receiver.hits[0];
    const expected = "sha256=" + crypto.createHmac("sha256", key).update(hit.body).digest("hex");
    expect(hit.headers["x-gatehouse-signature-256"]).toBe(expected);
    expect(hit.headers["x-gatehouse-event"]).toBe("test");
    const body = JSON.parse(hit.body);
    expect(body.kind).toBe("test");
    expect(body.title).toBe("Test message to release-hook");
    expect(String(body.delivery)).toBe(hit.headers["x-gatehouse-delivery"]);

    // Route approval requests of shop to it, with quiet hours; the rule is listed.
    await page.locator("#add-rule").click();
    const rule = page.locator("#rule-form");
    await rule.getByLabel("Channel").selectOption({ label: "release-hook" });
    await rule.getByLabel("Project").selectOption("shop");
    await rule.getByLabel("Approval requested").check();
    await rule.getByLabel("At least").selectOption("info");
    await rule.getByLabel("Quiet from (UTC, optional)").fill("22:00");
    await rule.getByLabel("Quiet until (UTC)").fill("07:00");
    await andReload(page, () => page.locator("#rule-create").click());
    const listed = page.locator("#rules tr").filter({ hasText: "release-hook" });
    await expect(listed).toContainText("Approval requested");
    await expect(listed).toContainText("22:00–07:00 UTC");
  } finally {
    receiver.close();
  }
});
