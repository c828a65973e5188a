// The packages as a user gets them: `npm pack` @herald/signing and @herald/receiver, install the tarballs
// in a fresh project outside the repository, and use them from a plain `node` (no tsx, no TypeScript).
// The tarballs are packed with --ignore-scripts from the dist/ that `npm test` (scripts/run-tests.js)
// has just built, so packing never rewrites files other tests are loading.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const ROOT = join(import.meta.dirname, "..");
const TOKEN = "608768db62a96febb18c2778d6cd52b0ad3dfde7";

/** The environment without what the npm running this test (and tsx) would pass down to a child. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== "NODE_OPTIONS"),
  );
  return { ...env, NO_UPDATE_NOTIFIER: "1" };
}

async function run(command: string, args: string[], cwd: string, timeout = 30_000): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(command, args, { cwd, env: cleanEnv(), timeout });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${String(error)}\n${stdout ?? ""}\n${stderr ?? ""}`);
  }
}

// Receives a signed Sendbird webhook over HTTP with createReceiver, and checks the refusals and verifyWebhook.
// argv: `memory` (an inbox of its own, in memory: better-sqlite3 is not installed) or `sqlite FILE`.
const CHECK = `
import { createServer } from "node:http";
import { createReceiver, nodeListener, verifyWebhook } from "@herald/receiver";
import { encodeSendbirdJson, signSendbird } from "@herald/signing";

const [mode, file] = process.argv.slice(2);
const TOKEN = ${JSON.stringify(TOKEN)};

class MemoryInbox {
  rows = new Map();
  next = 1;
  async ready() {}
  async accept(event) {
    for (const row of this.rows.values()) if (row.key === event.key) return undefined;
    const seq = this.next++;
    const claimed = event.leaseMs !== undefined;
    const { leaseMs, ...fields } = event;
    this.rows.set(seq, { ...fields, seq, attempts: claimed ? 1 : 0, lastError: null, state: "pending", due: claimed ? Date.now() + leaseMs : 0 });
    return seq;
  }
  async claim(limit, leaseMs) {
    const due = [...this.rows.values()].filter((row) => row.state === "pending" && row.due <= Date.now()).slice(0, limit);
    for (const row of due) Object.assign(row, { attempts: row.attempts + 1, due: Date.now() + leaseMs });
    return due.map((row) => this.view(row));
  }
  async complete(seq) { this.rows.get(seq).state = "done"; }
  async release(seqs) { for (const seq of seqs) Object.assign(this.rows.get(seq), { due: 0 }); }
  async retryAt(seq, at, error) { Object.assign(this.rows.get(seq), { due: at, lastError: error }); }
  async deadLetter(seq, error) { Object.assign(this.rows.get(seq), { state: "dead", lastError: error }); }
  async deadLetters() { return [...this.rows.values()].filter((row) => row.state === "dead").map((row) => this.view(row)); }
  async replay() { return 0; }
  async prune() { return 0; }
  async counts() {
    const count = (state) => [...this.rows.values()].filter((row) => row.state === state).length;
    return { pending: count("pending"), done: count("done"), dead: count("dead") };
  }
  async close() {}
  view({ state, due, ...event }) { return event; }
}

const handled = [];
const receiver = createReceiver({
  secrets: [TOKEN],
  inbox: mode === "sqlite" ? { sqlite: file } : new MemoryInbox(),
  handlers: {
    "group_channel:*": (event) => {
      handled.push({ type: event.type, message: event.payload.payload.message, attempt: event.attempt });
    },
  },
});
await receiver.ready();
const server = createServer(nodeListener(receiver));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = "http://127.0.0.1:" + server.address().port + "/webhooks/sendbird";

const body = encodeSendbirdJson({
  category: "group_channel:message_send",
  payload: { message_id: 1, message: "Hello 👋 / مرحبا" },
  channel: { channel_url: "sendbird_group_channel_1" },
});
const post = async (text, signature) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-sendbird-signature": signature },
    body: text,
  });
  return { status: response.status, ...(await response.json()) };
};
const signature = signSendbird(body, TOKEN);
const first = await post(body, signature);
const repeat = await post(body, signature);
const tampered = await post(body.replace("message_id", "message_ID"), signature);
const wrongSecret = await post(body, signSendbird(body, "not-the-token"));

const deadline = Date.now() + 10_000;
while ((await receiver.counts()).done < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
const counts = await receiver.counts();

const direct = verifyWebhook({ headers: { "x-sendbird-signature": signature }, body: Buffer.from(body) }, { secrets: TOKEN });
const parsed = verifyWebhook({ headers: { "x-sendbird-signature": signature }, body: JSON.parse(body) }, { secrets: TOKEN });

server.closeAllConnections();
server.close();
await receiver.close();
console.log(JSON.stringify({
  ascii: /^[\\x00-\\x7f]*$/.test(body),
  first: { status: first.status, ok: first.ok, duplicate: first.duplicate ?? false },
  repeat: { status: repeat.status, duplicate: repeat.duplicate },
  tampered: { status: tampered.status, reason: tampered.reason },
  wrongSecret: { status: wrongSecret.status, reason: wrongSecret.reason },
  handled,
  counts,
  direct: direct.ok ? direct.webhook.type : direct.reason,
  parsed: parsed.ok ? "verified" : parsed.reason,
}));
`;

// Type-checks a consumer against the installed declarations (the types are real, not `any`).
const CONSUMER = `
import { createReceiver, type ReceivedEvent, verifyWebhook } from "@herald/receiver";
import { signSendbird } from "@herald/signing";

const signature: string = signSendbird("{}", "token");
const receiver = createReceiver({ secrets: ["token"], autoStart: false, handlers: { "*": (event: ReceivedEvent) => event.type } });
const result = verifyWebhook({ headers: { "x-sendbird-signature": signature }, body: "{}" }, { secrets: "token" });
const id: string = result.ok ? result.webhook.id : result.reason;
// @ts-expect-error: a number is not a body
signSendbird(42, "token");
void receiver;
void id;
`;

// Nothing here depends on the store: it runs in the SQLite pass only.
const skip = process.env.HERALD_TEST_STORE === "postgres" ? "the packages do not depend on the store" : false;

test("the packed packages install and run in a plain Node project", { timeout: 60_000, skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "herald-packaging-"));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const packed = JSON.parse(
    await run(
      "npm",
      [
        "pack",
        "--workspace=@herald/signing",
        "--workspace=@herald/receiver",
        `--pack-destination=${dir}`,
        "--ignore-scripts",
        "--json",
      ],
      ROOT,
    ),
  ) as { name: string; filename: string; files: { path: string }[] }[];
  const contents = Object.fromEntries(packed.map((pack) => [pack.name, pack.files.map((file) => file.path)]));
  for (const [name, files] of Object.entries(contents)) {
    assert.ok(files.includes("dist/index.js") && files.includes("dist/index.d.ts"), `${name} ships dist: ${files}`);
    assert.deepEqual(
      files.filter((file) => file.startsWith("src/") || (file.endsWith(".ts") && !file.endsWith(".d.ts"))),
      [],
      `${name} ships no TypeScript sources`,
    );
    assert.deepEqual(
      files.filter((file) => file.includes("tsbuildinfo")),
      [],
    );
  }
  for (const file of ["bin/herald-receiver.js", "dist/cli/main.js", "dist/inbox/sqlite-inbox-worker.js"]) {
    assert.ok(contents["@herald/receiver"]?.includes(file), `@herald/receiver ships ${file}`);
  }

  const app = join(dir, "app");
  await mkdir(app);
  await writeFile(
    join(app, "package.json"),
    JSON.stringify({ name: "packaging-check", private: true, type: "module" }),
  );
  await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--offline", ...packed.map((pack) => join(dir, pack.filename))],
    app,
  );

  // Nothing at run time but the two packages: no tsx (nor its esbuild), no better-sqlite3.
  const installed = [
    ...(await readdir(join(app, "node_modules"))).filter((name) => !name.startsWith(".") && !name.startsWith("@")),
    ...(await readdir(join(app, "node_modules", "@herald"))).map((name) => `@herald/${name}`),
  ].sort();
  assert.deepEqual(installed, ["@herald/receiver", "@herald/signing"]);
  for (const name of installed) {
    const manifest = JSON.parse(await readFile(join(app, "node_modules", name, "package.json"), "utf8"));
    assert.ok(!("tsx" in (manifest.dependencies ?? {})), `${name} does not depend on tsx at run time`);
  }

  await writeFile(join(app, "check.mjs"), CHECK);
  const expected = {
    ascii: true,
    first: { status: 200, ok: true, duplicate: false },
    repeat: { status: 200, duplicate: true },
    tampered: { status: 401, reason: "bad-signature" },
    wrongSecret: { status: 401, reason: "bad-signature" },
    handled: [{ type: "group_channel:message_send", message: "Hello 👋 / مرحبا", attempt: 1 }],
    counts: { pending: 0, done: 1, dead: 0 },
    direct: "group_channel:message_send",
    parsed: "body-not-raw",
  };
  assert.deepEqual(JSON.parse(await run(process.execPath, ["check.mjs", "memory"], app)), expected);

  await writeFile(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules", "@types")],
      },
      files: ["consumer.ts"],
    }),
  );
  await writeFile(join(app, "consumer.ts"), CONSUMER);
  await run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."], app);

  // The optional peers, as the repository installed them (better-sqlite3 as built here): the SQLite inbox runs
  // its worker thread from the installed dist, and the CLI runs (it loads the notifier, so nodemailer and
  // web-push, even for its usage).
  for (const peer of ["better-sqlite3", "nodemailer", "web-push"]) {
    await symlink(join(ROOT, "node_modules", peer), join(app, "node_modules", peer), "dir");
  }
  assert.deepEqual(
    JSON.parse(await run(process.execPath, ["check.mjs", "sqlite", join(dir, "inbox.db")], app)),
    expected,
  );
  // With no command it is a usage error (exit 2, usage on stderr); --help is the usage on stdout, exit 0.
  const usage = await run(process.execPath, [join(app, "node_modules", ".bin", "herald-receiver"), "--help"], app);
  assert.match(usage, /herald-receiver <command>/);
});
