import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { openPage, screenshot, signIn, startBrowser, type TestBrowser } from "./helpers/browser.js";
import { call, configureChatWebhook, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

/** The dashboard in Debian's Chromium against a real Herald: what a person does, checked through the API. */
describe("dashboard", () => {
  let h: TestHerald;
  let browser: TestBrowser;
  let receiver: Receiver;

  before(async () => {
    // Sendbird's three attempts a few milliseconds apart, so a failed delivery is failed within the test.
    h = await startHerald({ retryDelayScale: 0.0001 });
    browser = await startBrowser(h.url);
    receiver = await Receiver.start();
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await h?.close();
  });

  test("signs in with the admin token, switches apps, and every page loads without a console error", async () => {
    const first = await h.createApp("alpha");
    const second = await h.createApp("beta");
    await configureChatWebhook(h.url, second.token, { url: receiver.url });
    const { page, errors } = await browser.newPage();
    const started = Date.now();
    await signIn(page, h.url, h.adminToken);
    const appSelect = page.getByLabel("App", { exact: true });
    await appSelect.selectOption(second.appId);
    assert.ok(first.appId);
    for (const title of ["Overview", "Webhook settings", "Endpoints", "Delivery log", "Event catalog", "API tokens"]) {
      await openPage(page, title);
      await page.waitForLoadState("networkidle");
      await screenshot(page, `${title.toLowerCase().replace(/\W+/g, "-")}`);
    }
    // The token is in sessionStorage only: never in the URL, never in localStorage or a cookie.
    assert.ok(!page.url().includes(h.adminToken));
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { localStorage: { length: number } }).localStorage.length),
      0,
    );
    assert.deepEqual(await browser.context.cookies(), []);
    assert.deepEqual(errors, []);
    console.log(`# signed in and visited six pages in ${Date.now() - started} ms`);
  });
});
