import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing). */
export const CHROMIUM = process.env.HERALD_TEST_CHROMIUM ?? "/usr/bin/chromium";
/** Screenshots of every page, git-ignored, for a person to look at. */
export const ARTIFACTS = join(process.cwd(), "test-artifacts", "dashboard");

export interface TestBrowser {
  context: BrowserContext;
  /** A new tab (its own sessionStorage), with its console errors and uncaught exceptions collected. */
  newPage(options?: { width?: number; height?: number; dark?: boolean }): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/** Headless Chromium on a fresh profile directory, with the flags CI runs it with. */
export async function startBrowser(origin: string): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "herald-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 800 },
    permissions: ["clipboard-read", "clipboard-write"],
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context,
    async newPage(options = {}) {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      page.on("pageerror", (error) => errors.push(String(error)));
      // The console says only "Failed to load resource": name the request too.
      page.on("response", (response) => {
        if (response.status() >= 400)
          errors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
      });
      await page.setViewportSize({ width: options.width ?? 1280, height: options.height ?? 800 });
      await page.emulateMedia({ colorScheme: options.dark ? "dark" : "light" });
      return { page, errors };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the dashboard and signs in with a token. */
export async function signIn(page: Page, baseUrl: string, token: string, path = ""): Promise<void> {
  await page.goto(`${baseUrl}/dashboard/${path}`);
  await page.getByLabel("App master token or admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Pages" }).waitFor();
}

/** Goes to a page of the dashboard through its navigation, as a person would. */
export async function openPage(page: Page, title: string): Promise<void> {
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: title }).click();
  await page.getByRole("heading", { level: 1, name: title }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
