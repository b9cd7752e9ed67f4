import { expect, test } from "@playwright/test";
import { ADMIN, hydrated, signIn } from "../tests/helpers";

// How long one step of the threshold slider takes in Chromium with every prediction of the
// benchmark project on the page: from the input event to the confusion matrix, the five rates
// with their intervals and the marks updated in the DOM, layout included. The figures are
// computed in WebAssembly from the scores the page carries (no request).
test("threshold slider steps over the benchmark's predictions", async ({ page }) => {
  const n = Number(process.env.SLIDER_N ?? 100000);
  await signIn(page, ADMIN.username, ADMIN.password);
  const requests: string[] = [];
  await page.goto("/calibration?project=bench&days=366");
  await hydrated(page);
  await expect(page.locator("#sample-counts strong").first()).toHaveText(n.toLocaleString("en-US").replace(/,/g, ""), {
    useInnerText: true,
  }).catch(async () => {
    // The count may be formatted with separators: compare digits only.
    const text = (await page.locator("#sample-counts strong").first().textContent())!;
    expect(Number(text.replace(/\D+/g, ""))).toBe(n);
  });
  page.on("request", (r) => requests.push(r.url()));
  const { times, stale } = await page.evaluate(async () => {
    const slider = document.querySelector<HTMLInputElement>("#threshold-slider")!;
    const out: number[] = [];
    const shown = document.querySelector("#threshold-value")!;
    let stale = 0;
    // A macrotask without the 4 ms clamp nested timers get.
    const channel = new MessageChannel();
    const macrotask = () =>
      new Promise<void>((r) => {
        channel.port1.onmessage = () => r();
        channel.port2.postMessage(0);
      });
    for (let i = 0; i < 200; i++) {
      const value = ((i * 37) % 100) / 100; // jumps across the range, never the same twice running
      const t0 = performance.now();
      slider.value = value.toFixed(2);
      slider.dispatchEvent(new Event("input", { bubbles: true }));
      // Leptos runs its effects as microtasks: a macrotask later they are done.
      await macrotask();
      void document.body.offsetHeight; // style and layout of the new figures
      out.push(performance.now() - t0);
      if (shown.textContent !== value.toFixed(2)) stale += 1; // measured before the update landed

    }
    return { times: out, stale };
  });
  expect(stale, "every step measured after its figures were shown").toBe(0);
  expect(requests, "the slider computes in the page").toEqual([]);
  const sorted = [...times].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  console.log(
    `slider, ${n} predictions, ${times.length} steps in Chromium: median ${q(0.5).toFixed(2)} ms, p95 ${q(0.95).toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(2)} ms`,
  );
  // The figures did follow the last step.
  await expect(page.locator("#threshold-value")).toHaveText(((199 * 37) % 100 / 100).toFixed(2));
});
