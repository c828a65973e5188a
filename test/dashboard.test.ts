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
    // Failed deliveries are part of the story: no breaker may hold them back as pending.
    h = await startHerald({ retryDelayScale: 0.0001, endpointBreakerFailures: 1_000_000 });
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
    // Something to show on the Overview and in the log.
    for (const message of ["hello", "again", "once more"]) {
      await call(h.url, "POST", "/v1/events", { token: second.token, body: sampleEvent(message) });
    }
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
    assert.equal(await page.evaluate(() => (globalThis as any).localStorage.length), 0);
    assert.deepEqual(await browser.context.cookies(), []);
    assert.deepEqual(errors, []);
    console.log(`# signed in and visited six pages in ${Date.now() - started} ms`);
  });

  test("the first page is interactive quickly, signed out and signed in", async () => {
    const app = await h.createApp("timing");
    const { page, errors } = await browser.newPage();
    let started = Date.now();
    await page.goto(`${h.url}/dashboard/`);
    await page.getByLabel("App master token or admin token").fill(app.token);
    const signInMs = Date.now() - started;
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    started = Date.now();
    await page.reload();
    // Signed in (the tab keeps its session): the Overview's endpoints list has loaded.
    await page.getByText("No endpoints yet.").waitFor();
    const overviewMs = Date.now() - started;
    console.log(`# first page interactive: sign-in form ${signInMs} ms, overview with data ${overviewMs} ms`);
    // The aim is 1 s on this machine; a loaded CI machine gets room.
    assert.ok(signInMs < 3000, `sign-in form took ${signInMs} ms`);
    assert.ok(overviewMs < 3000, `overview took ${overviewMs} ms`);
    assert.deepEqual(errors, []);
  });

  test("changes the Chat webhook settings, and the API returns them", async () => {
    const app = await h.createApp("settings");
    const { page, errors } = await browser.newPage();
    await signIn(page, h.url, app.token, "settings");
    const chat = page.getByRole("region", { name: "Chat webhook" });
    await chat.getByLabel("Enabled").check();
    await chat.getByLabel("Webhook URL").fill(receiver.url);
    await chat.getByLabel("Include members").check();
    await chat.getByLabel("Select all group_channel").check();
    await chat.getByLabel("group_channel:message_read", { exact: true }).uncheck();
    await chat.getByLabel("Search categories").fill("open_channel:message");
    await chat.getByLabel("open_channel:message_send", { exact: true }).check();
    await chat.getByRole("button", { name: "Save Chat webhook" }).click();
    await chat.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const { body } = await call(h.url, "GET", "/v3/applications/settings/webhook", { token: app.token });
    assert.equal(body.webhook.enabled, true);
    assert.equal(body.webhook.url, receiver.url);
    assert.equal(body.webhook.include_members, true);
    assert.equal(body.webhook.include_unread_count, false);
    const events: string[] = body.webhook.enabled_events;
    assert.ok(events.includes("group_channel:message_send"));
    assert.ok(events.includes("open_channel:message_send"));
    assert.ok(!events.includes("group_channel:message_read"));
    assert.ok(!events.includes("open_channel:create"));
    await screenshot(page, "webhook-settings-saved");
    assert.deepEqual(errors, []);
  });

  test("edits a Stream hook's URL, switch and compression", async () => {
    const app = await h.createApp("stream");
    assert.equal((await call(h.url, "POST", "/v1/keys", { token: app.token, body: {} })).status, 201);
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: `${receiver.url}/stream`, profile: "stream" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { page, errors } = await browser.newPage();
    await signIn(page, h.url, app.token, "settings");
    const hook = page.getByRole("form", { name: "Stream hook stream" });
    await hook.getByLabel("URL").fill(`${receiver.url}/stream-v2`);
    await hook.getByLabel("Compress bodies (gzip)").check();
    await hook.getByLabel("Enabled").uncheck();
    await hook.getByRole("button", { name: "Save stream" }).click();
    await page.getByRole("status").filter({ hasText: "Saved stream." }).waitFor();
    const { body } = await call(h.url, "GET", `/v1/endpoints/${created.body.id}`, { token: app.token });
    assert.deepEqual([body.url, body.enabled, body.options.compress], [`${receiver.url}/stream-v2`, false, true]);
    await screenshot(page, "webhook-settings-stream");
    assert.deepEqual(errors, []);
  });

  test("a bad URL shows the API's own message, and nothing changes", async () => {
    const app = await h.createApp("bad-url");
    await configureChatWebhook(h.url, app.token, { url: receiver.url });
    const bad = "ftp://example.com/hooks";
    const direct = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
      token: app.token,
      body: { enabled: true, url: bad, enabled_events: ["*"], include_members: false, include_unread_count: false },
    });
    assert.equal(direct.status, 400);
    const { page } = await browser.newPage();
    await signIn(page, h.url, app.token, "settings");
    const chat = page.getByRole("region", { name: "Chat webhook" });
    await chat.getByLabel("Webhook URL").fill(bad);
    await chat.getByRole("button", { name: "Save Chat webhook" }).click();
    const alert = chat.getByRole("alert");
    await alert.waitFor();
    assert.equal(await alert.textContent(), direct.body.message);
    const { body } = await call(h.url, "GET", "/v3/applications/settings/webhook", { token: app.token });
    assert.equal(body.webhook.url, receiver.url);
    await screenshot(page, "webhook-settings-bad-url");
  });

  test("the settings form is usable by keyboard alone", async () => {
    const app = await h.createApp("keyboard");
    const { page, errors } = await browser.newPage();
    await signIn(page, h.url, app.token, "settings");
    await page.getByRole("region", { name: "Chat webhook" }).getByLabel("Webhook URL").waitFor();
    // The page's heading has focus after navigation; Tab walks the form in reading order.
    const focused = () =>
      page.evaluate(() => {
        const element = (globalThis as any).document.activeElement;
        return element?.labels?.[0]?.textContent?.trim() ?? element?.getAttribute("aria-label") ?? element?.tagName;
      });
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id), "page-title");
    const order: (string | undefined)[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press("Tab");
      order.push(await focused());
    }
    assert.deepEqual(order, [
      "Enabled",
      "Webhook URL",
      "Include members",
      "Include unread count",
      "Every category, including ones added later",
      "Search categories",
      "Select all open_channel (0/8)",
    ]);
    // Back to the top of the form: switch it on, type the URL, tick a box, save with Enter.
    for (let i = 0; i < 6; i++) await page.keyboard.press("Shift+Tab");
    assert.equal(await focused(), "Enabled");
    await page.keyboard.press("Space");
    await page.keyboard.press("Tab");
    await page.keyboard.type(receiver.url);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Space");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Space");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Shift+Tab");
    assert.equal(await focused(), "Webhook URL");
    await page.keyboard.press("Enter");
    await page.getByRole("region", { name: "Chat webhook" }).getByRole("status").waitFor();
    const { body } = await call(h.url, "GET", "/v3/applications/settings/webhook", { token: app.token });
    assert.deepEqual(
      {
        enabled: body.webhook.enabled,
        url: body.webhook.url,
        unread: body.webhook.include_unread_count,
        events: body.webhook.enabled_events,
      },
      { enabled: true, url: receiver.url, unread: true, events: ["*"] },
    );
    assert.deepEqual(errors, []);
  });

  test("creates an endpoint, shows its secret once and copies it", async () => {
    const app = await h.createApp("endpoints");
    const { page, errors } = await browser.newPage();
    await signIn(page, h.url, app.token, "endpoints");
    const form = page.getByRole("form", { name: "Create an endpoint" });
    await form.getByLabel("URL").fill(`${receiver.url}/standard`);
    await form.getByLabel("Description").fill("from the dashboard");
    await form.getByLabel("group_channel:*", { exact: true }).check();
    await form.getByRole("button", { name: "Create endpoint" }).click();
    const secret = page.getByTestId("secret-value");
    await secret.waitFor();
    const shown = (await secret.textContent()) ?? "";
    assert.match(shown, /^whsec_/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText()), shown);
    const { body } = await call(h.url, "GET", "/v1/endpoints", { token: app.token });
    const created = body.endpoints.find((e: { url: string }) => e.url === `${receiver.url}/standard`);
    assert.deepEqual(
      [created.profile, created.filter, created.description],
      ["standard", ["group_channel:*"], "from the dashboard"],
    );
    // The list shows it (without the secret) once created.
    await page.getByRole("listitem", { name: `Endpoint ${receiver.url}/standard` }).waitFor();
    await screenshot(page, "endpoints-created");
    // Rotate its secret: a new one, shown once, that the API now signs with.
    const row = page.getByRole("listitem", { name: `Endpoint ${receiver.url}/standard` });
    await row.getByRole("button", { name: "Rotate secret" }).click();
    const rotated = row.getByTestId("secret-value");
    await rotated.waitFor();
    const next = (await rotated.textContent()) ?? "";
    assert.match(next, /^whsec_/);
    assert.notEqual(next, shown);
    // Disable it from the list, and the API says so.
    await page
      .getByRole("listitem", { name: `Endpoint ${receiver.url}/standard` })
      .getByRole("button", { name: "Disable" })
      .click();
    await eventually(async () => {
      const { body: after } = await call(h.url, "GET", `/v1/endpoints/${created.id}`, { token: app.token });
      return after.enabled === false ? true : undefined;
    });
    assert.deepEqual(errors, []);
  });

  test("creates an API token shown once, and revokes it", async () => {
    const app = await h.createApp("tokens");
    const { page, errors } = await browser.newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    await signIn(page, h.url, app.token, "tokens");
    await page.getByLabel("publish").uncheck();
    await page.getByLabel("read").check();
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.getByTestId("secret-value").textContent()) ?? "";
    const who = await call(h.url, "GET", "/v1/session", { token });
    assert.deepEqual([who.status, who.body.scopes], [200, ["read"]]);
    const preview = token.slice(0, 4);
    const revoke = page.getByRole("button", { name: new RegExp(`^Revoke ${preview}`) });
    await revoke.click();
    await page.getByRole("status").filter({ hasText: "Revoked" }).waitFor();
    assert.equal((await call(h.url, "GET", "/v1/session", { token })).status, 401);
    await screenshot(page, "api-tokens-revoked");
    assert.deepEqual(errors, []);
  });

  test("sends a test event from the catalog and watches its delivery arrive with its attempts", async () => {
    const app = await h.createApp("catalog");
    const local = await Receiver.start();
    try {
      await configureChatWebhook(h.url, app.token, { url: local.url });
      const { page, errors } = await browser.newPage();
      await signIn(page, h.url, app.token, "catalog");
      await page.getByRole("button", { name: "group_channel:message_send", exact: true }).first().click();
      const editor = page.getByLabel("Event (JSON, as receivers will get it)");
      const sample = JSON.parse(await editor.inputValue());
      assert.equal(sample.app_id, app.appId, "the sample carries the app's own id, not the catalog's placeholder");
      sample.payload = { ...sample.payload, message: "sent from the dashboard" };
      await editor.fill(JSON.stringify(sample, null, 2));
      await page.getByRole("button", { name: "Send test event" }).click();
      const arrivals = page.getByRole("list", { name: "Deliveries of the test event" });
      await arrivals.getByText("succeeded").waitFor({ timeout: 15_000 });
      assert.equal(local.requests.length, 1);
      assert.match(local.requests[0]!.raw.toString(), /sent from the dashboard/);
      assert.equal(JSON.parse(local.requests[0]!.raw.toString()).app_id, app.appId, "the delivered body's app_id");
      await arrivals.getByRole("button", { name: "Attempts" }).click();
      const attempt = page.getByRole("listitem", { name: "Attempt 1" });
      await attempt.getByText("HTTP 200").waitFor();
      await screenshot(page, "event-catalog-sent");
      assert.deepEqual(errors, []);
    } finally {
      await local.close();
    }
  });

  test("the delivery log shows a new delivery live, without a reload, with its attempts", async () => {
    const app = await h.createApp("live");
    const local = await Receiver.start();
    try {
      await configureChatWebhook(h.url, app.token, { url: local.url });
      const { page, errors } = await browser.newPage();
      await signIn(page, h.url, app.token, "deliveries");
      await page.getByText("● Live").waitFor();
      await page.getByText("No deliveries match.").waitFor();
      const published = await call(h.url, "POST", "/v1/events", { token: app.token, body: sampleEvent("live one") });
      assert.equal(published.status, 202);
      const { body } = await eventually(async () => {
        const answer = await call(h.url, "GET", `/v1/deliveries?event_id=${published.body.id}`, { token: app.token });
        return answer.body.deliveries[0]?.status === "succeeded" ? answer : undefined;
      });
      const id: string = body.deliveries[0].id;
      const row = page.locator(`tr[data-delivery-id="${id}"]`);
      await row.getByText("succeeded").waitFor({ timeout: 10_000 });
      await row.getByRole("button").click();
      const detail = page.getByRole("region", { name: "Delivery" });
      await detail.getByRole("listitem", { name: "Attempt 1" }).getByText("HTTP 200").waitFor();
      await detail.getByText("Request headers").click();
      await detail.getByText("x-sendbird-signature: [redacted]").waitFor();
      await detail.getByText("Request body").click();
      await detail.getByText(/"message": "live one"/).waitFor();
      await screenshot(page, "delivery-log-live");
      assert.deepEqual(errors, []);
    } finally {
      await local.close();
    }
  });

  test("resends a failed delivery", async () => {
    const app = await h.createApp("resend");
    const failing = await Receiver.start((_request, index) => (index < 3 ? 500 : 200));
    try {
      await configureChatWebhook(h.url, app.token, { url: failing.url });
      const published = await call(h.url, "POST", "/v1/events", { token: app.token, body: sampleEvent("fails first") });
      const failed = await eventually(async () => {
        const { body } = await call(h.url, "GET", `/v1/deliveries?event_id=${published.body.id}`, { token: app.token });
        return body.deliveries[0]?.status === "failed" ? body.deliveries[0] : undefined;
      }, 20_000);
      const { page, errors } = await browser.newPage();
      await signIn(page, h.url, app.token, "deliveries");
      await page.locator(`tr[data-delivery-id="${failed.id}"]`).getByRole("button").click();
      const detail = page.getByRole("region", { name: "Delivery" });
      await detail.getByRole("listitem", { name: "Attempt 3" }).getByText("HTTP 500").waitFor();
      await detail.getByRole("button", { name: "Resend" }).click();
      await detail.getByRole("status").filter({ hasText: "Resent" }).waitFor();
      await failing.waitFor(4);
      await detail.getByRole("listitem", { name: "Attempt 4" }).getByText("HTTP 200").waitFor({ timeout: 10_000 });
      const { body } = await call(h.url, "GET", `/v1/deliveries/${failed.id}`, { token: app.token });
      assert.equal(body.status, "succeeded");
      await screenshot(page, "delivery-log-resent");
      assert.deepEqual(errors, []);
    } finally {
      await failing.close();
    }
  });

  test("recovers an endpoint's failed deliveries with progress, and each arrives again", async () => {
    const app = await h.createApp("recover");
    let up = false;
    const flaky = await Receiver.start(() => (up ? 200 : 503));
    try {
      await configureChatWebhook(h.url, app.token, { url: flaky.url });
      const { body } = await call(h.url, "GET", "/v1/endpoints", { token: app.token });
      const endpoint = body.endpoints[0];
      const since = new Date(Date.now() - 60_000);
      for (const n of [1, 2, 3]) {
        await call(h.url, "POST", "/v1/events", { token: app.token, body: sampleEvent(`recover-${n}`) });
      }
      // Sendbird's three attempts each, then dead letters.
      await eventually(async () => {
        const failed = await call(h.url, "GET", "/v1/deliveries?status=failed", { token: app.token });
        return failed.body.deliveries.length === 3 ? true : undefined;
      });
      up = true;
      const { page } = await browser.newPage();
      await signIn(page, h.url, app.token, "deliveries");
      const form = page.getByRole("form", { name: "Recover failed deliveries" });
      await form.getByLabel("Endpoint").selectOption(endpoint.id);
      // datetime-local takes local time; the browser runs in this process's time zone.
      const pad = (n: number) => String(n).padStart(2, "0");
      const local = `${since.getFullYear()}-${pad(since.getMonth() + 1)}-${pad(since.getDate())}T${pad(since.getHours())}:${pad(since.getMinutes())}`;
      await form.getByLabel("Failed since").fill(local);
      await form.getByRole("button", { name: "Recover" }).click();
      await form
        .getByRole("status")
        .filter({ hasText: /Recovered 3\b/ })
        .waitFor({ timeout: 15_000 });
      assert.equal(await form.getByRole("progressbar", { name: "Recovery progress" }).count(), 1);
      await flaky.waitFor(3 * 3 + 3);
      await screenshot(page, "delivery-log-recover");
    } finally {
      await flaky.close();
    }
  });

  test("the Overview never calls an endpoint whose every attempt fails healthy, and shows its open breaker", async () => {
    // Real retry delays (the first retry is seconds away) and a breaker that opens at the first failure:
    // the delivery stays pending behind a failed attempt, so there is no success rate yet ("—").
    // The queue sampled often, so its charts have points to draw.
    const slow = await startHerald({ endpointBreakerFailures: 1, queueSampleMs: 200 });
    const broken = await Receiver.start(() => 500);
    try {
      const app = await slow.createApp("broken");
      await configureChatWebhook(slow.url, app.token, { url: broken.url });
      await call(slow.url, "POST", "/v1/events", { token: app.token, body: sampleEvent("to a broken endpoint") });
      await eventually(async () => {
        const page = await call(slow.url, "GET", "/v1/deliveries", { token: app.token });
        const [delivery] = page.body.deliveries;
        return delivery?.attempts >= 1 && delivery.status === "pending" ? true : undefined;
      }, 15_000);
      const { page, errors } = await browser.newPage();
      await signIn(page, slow.url, app.token);
      const card = page.getByRole("region", { name: `Endpoint ${broken.url}` });
      await card.getByText("failing", { exact: true }).waitFor({ timeout: 15_000 });
      assert.equal(await card.getByText("healthy", { exact: true }).count(), 0, "a failing endpoint is not healthy");
      await card.getByText("breaker open", { exact: true }).waitFor({ timeout: 15_000 });
      // The sampled queue's charts, named for screen readers like the others.
      await card.getByRole("img", { name: /^Queue depth, up to \d+ pending$/ }).waitFor();
      await card.getByRole("img", { name: /^Oldest pending, up to \d+ (s|min)$/ }).waitFor();
      await screenshot(page, "overview-failing-endpoint");
      assert.deepEqual(errors, []);
    } finally {
      await broken.close();
      await slow.close();
    }
  });

  test("reads on a narrow window and in dark mode", async () => {
    const app = await h.createApp("narrow");
    await configureChatWebhook(h.url, app.token, { url: receiver.url });
    await call(h.url, "POST", "/v1/events", { token: app.token, body: sampleEvent("narrow") });
    for (const [name, options] of [
      ["narrow-dark", { width: 420, height: 800, dark: true }],
      ["wide-dark", { width: 1280, height: 800, dark: true }],
    ] as const) {
      const { page, errors } = await browser.newPage(options);
      await signIn(page, h.url, app.token);
      for (const title of ["Overview", "Webhook settings", "Delivery log"]) {
        await openPage(page, title);
        await page.waitForLoadState("networkidle");
        const overflow = await page.evaluate(
          () => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth,
        );
        assert.ok(overflow <= 0, `${title} is ${overflow} px wider than a ${options.width} px window`);
        await screenshot(page, `${name}-${title.toLowerCase().replace(/\W+/g, "-")}`);
      }
      assert.deepEqual(errors, []);
    }
  });
});

/** A Sendbird group channel message, as a chat backend publishes it. */
function sampleEvent(message: string) {
  return {
    category: "group_channel:message_send",
    sender: { user_id: "Jeff", nickname: "Jeff", profile_url: "", metadata: {} },
    type: "MESG",
    payload: { message_id: 1, message, created_at: 1732350000123 },
    channel: { channel_url: "sendbird_group_channel_1", name: "Trip", is_super: false },
  };
}
