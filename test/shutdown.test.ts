import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { call, configureChatWebhook, eventually, sleep, startHerald, TEST_STORE } from "./helpers/herald.js";
import { freePort, Receiver, refusingUrl } from "./helpers/receiver.js";

const ROOT = join(import.meta.dirname, "..");

/** The process's children, grandchildren, …, read from /proc (Linux). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {}
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether something accepts connections on the port. */
async function listening(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts Herald the way a person does (`npm start`, `npx herald serve`) on a temp SQLite file and a
 * free port, gives it an attempt in flight to a receiver that answers after 1.5 s, sends `signal`
 * to the npm process only, and checks that the attempt finished, the port closed and every process
 * of the tree exited, within a few seconds.
 */
async function stopsCleanly(command: string[], signal: NodeJS.Signals, to: "npm" | "group" = "npm"): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "herald-shutdown-"));
  const port = await freePort();
  const adminToken = "shutdown-test-admin-token";
  const receiver = await Receiver.start(async () => {
    await sleep(1500);
    return 200;
  });
  let npm: ChildProcess | undefined;
  let tree: number[] = [];
  let output = "";
  try {
    npm = spawn(command[0]!, command.slice(1), {
      cwd: ROOT,
      env: {
        ...process.env,
        HERALD_DATABASE_URL: `sqlite:${join(dir, "herald.db")}`,
        HERALD_PORT: String(port),
        HERALD_HOST: "127.0.0.1",
        HERALD_ADMIN_TOKEN: adminToken,
        HERALD_LOG_FORMAT: "json",
        // The receiver is on loopback, which the SSRF guard refuses unless told otherwise.
        HERALD_ALLOW_NETWORKS: "127.0.0.0/8,::1",
      },
      stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own, as a terminal gives a command, for the Ctrl-C case.
      detached: to === "group",
    });
    npm.stdout?.on("data", (chunk: Buffer) => (output += chunk));
    npm.stderr?.on("data", (chunk: Buffer) => (output += chunk));
    const url = `http://127.0.0.1:${port}`;
    // `npm start` builds first.
    await eventually(async () => ((await listening(port)) ? true : undefined), 120_000).catch((error) => {
      throw new Error(`${command.join(" ")} did not start: ${error}\n${output}`);
    });
    const created = await call(url, "POST", "/v1/apps", { token: adminToken, body: { name: "shutdown" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = created.body.api_token as string;
    await configureChatWebhook(url, token, { url: receiver.url });
    assert.equal((await call(url, "POST", "/v1/events", { token, body: { category: "user:block" } })).status, 202);
    await receiver.waitFor(1);

    tree = [npm.pid!, ...descendants(npm.pid!)];
    assert.ok(tree.length >= 2, "npm and Herald at least");
    const signalled = performance.now();
    process.kill(to === "group" ? -npm.pid! : npm.pid!, signal);
    await eventually(() => (tree.every((pid) => !alive(pid)) ? true : undefined), 8000).catch(() => {
      const left = tree.filter(alive);
      throw new Error(
        `processes still running ${((performance.now() - signalled) / 1000).toFixed(1)} s after ${signal}: ${left}\n${output}`,
      );
    });
    assert.equal(await listening(port), false, "nothing listens on the port");

    // The attempt in flight when the signal came was let finish, and recorded.
    const db = new Database(join(dir, "herald.db"), { readonly: true });
    try {
      const attempts = db.prepare("SELECT status_code FROM attempts").all() as { status_code: number }[];
      assert.deepEqual(attempts, [{ status_code: 200 }], output);
      assert.deepEqual(db.prepare("SELECT state FROM deliveries").all(), [{ state: "succeeded" }]);
    } finally {
      db.close();
    }
    const lines = output.split("\n").filter((line) => line.startsWith("{"));
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    assert.ok(messages.includes("herald stopped"), `a clean shutdown is logged: ${output}`);
  } finally {
    // Only the processes this test started, by PID.
    // A test that failed before the signal has not listed the tree yet: list it now.
    const started = tree.length > 0 ? tree : npm?.pid ? [npm.pid, ...descendants(npm.pid)] : [];
    for (const pid of started) {
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Processes of their own on SQLite files: once is enough, in the SQLite pass.
describe("stopping Herald started through npm", { skip: TEST_STORE === "postgres" }, () => {
  it("SIGTERM to the npm process of `npm start`: the attempt in flight finishes, the port closes, no process is left", async () => {
    await stopsCleanly(["npm", "start", "--silent"], "SIGTERM");
  });

  it("SIGINT to the npm process of `npm start` does the same", async () => {
    await stopsCleanly(["npm", "start", "--silent"], "SIGINT");
  });

  it("SIGTERM to the npm process of `npx herald serve` does the same", async () => {
    await stopsCleanly(["npx", "--yes", "herald", "serve"], "SIGTERM");
  });

  it("Ctrl-C (SIGINT to the process group) of `npx herald serve` does the same", async () => {
    await stopsCleanly(["npx", "--yes", "herald", "serve"], "SIGINT", "group");
  });
});

describe("stopping `herald listen` started through npm", { skip: TEST_STORE === "postgres" }, () => {
  it("SIGTERM to the npm process of `npx herald listen`: its temporary endpoint is removed, no process is left", async () => {
    const h = await startHerald();
    const receiver = await Receiver.start();
    let output = "";
    let tree: number[] = [];
    const app = await h.createApp();
    const npm = spawn("npx", ["--yes", "herald", "listen", "--json", "--forward-to", receiver.url], {
      cwd: ROOT,
      env: { ...process.env, HERALD_URL: h.url, HERALD_API_TOKEN: app.token, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    npm.stdout.on("data", (chunk: Buffer) => (output += chunk));
    npm.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const endpoints = async () =>
      ((await call(h.url, "GET", "/v1/endpoints", { token: app.token })).body.endpoints as unknown[]).length;
    try {
      await eventually(async () => ((await endpoints()) === 1 ? true : undefined), 60_000).catch((error) => {
        throw new Error(`herald listen did not start: ${error}\n${output}`);
      });
      tree = [npm.pid!, ...descendants(npm.pid!)];
      assert.ok(tree.length >= 2, "npm and herald listen at least");
      process.kill(npm.pid!, "SIGTERM");
      await eventually(() => (tree.every((pid) => !alive(pid)) ? true : undefined), 8000).catch(() => {
        throw new Error(`processes still running after SIGTERM: ${tree.filter(alive)}\n${output}`);
      });
      assert.equal(await endpoints(), 0, "the temporary endpoint was left behind");
    } finally {
      // Only the processes this test started, by PID.
      for (const pid of tree.length > 0 ? tree : [npm.pid!, ...descendants(npm.pid!)]) {
        if (alive(pid)) process.kill(pid, "SIGKILL");
      }
      await receiver.close();
      await h.close();
    }
  });
});

describe("stopping the receiver kit's notifier started through npm", { skip: TEST_STORE === "postgres" }, () => {
  it("SIGTERM to the npm process of `npx herald-receiver notifier`: the port closes, no process is left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-notifier-shutdown-"));
    const port = await freePort();
    let output = "";
    const npm = spawn("npx", ["--yes", "herald-receiver", "notifier", "--port", String(port)], {
      cwd: ROOT,
      env: {
        ...process.env,
        HERALD_RECEIVER_SECRETS: "notifier-shutdown-secret",
        HERALD_RECEIVER_INBOX: `sqlite:${join(dir, "inbox.db")}`,
        // One channel is required; nothing is sent here.
        HERALD_RECEIVER_SMS_ACCOUNT_SID: "AC-shutdown",
        HERALD_RECEIVER_SMS_AUTH_TOKEN: "token",
        HERALD_RECEIVER_SMS_FROM: "+15550000000",
        HERALD_RECEIVER_SMS_BASE_URL: await refusingUrl(),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    npm.stdout.on("data", (chunk: Buffer) => (output += chunk));
    npm.stderr.on("data", (chunk: Buffer) => (output += chunk));
    let tree: number[] = [];
    try {
      await eventually(async () => {
        if (npm.exitCode !== null) throw new Error(`npx exited with ${npm.exitCode}`);
        return (await listening(port)) ? true : undefined;
      }, 60_000).catch((error) => {
        throw new Error(`the notifier did not start: ${error}\n${output}`);
      });
      tree = [npm.pid!, ...descendants(npm.pid!)];
      assert.ok(tree.length >= 2, "npm and the notifier at least");
      process.kill(npm.pid!, "SIGTERM");
      await eventually(() => (tree.every((pid) => !alive(pid)) ? true : undefined), 8000).catch(() => {
        throw new Error(`processes still running after SIGTERM: ${tree.filter(alive)}\n${output}`);
      });
      assert.equal(await listening(port), false, "nothing listens on the port");
    } finally {
      // Only the processes this test started, by PID.
      for (const pid of tree.length > 0 ? tree : [npm.pid!, ...descendants(npm.pid!)]) {
        if (alive(pid)) process.kill(pid, "SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("noticing npm is gone", () => {
  it("stops a command whose npm parent died before it began to watch", async () => {
    const shared = join(ROOT, "dist/cli/shared.js");
    // `; true` keeps sh from exec-ing node: node's parent is the sh that the test kills.
    const script = `import("${shared}").then(({ stopWhenAdopted }) => {
      console.log("loaded");
      setTimeout(() => stopWhenAdopted(() => { console.log("stopped"); process.exit(0); }), 1500);
      setTimeout(() => process.exit(3), 8000);
    })`;
    const sh = spawn("sh", ["-c", `${process.execPath} -e '${script}'; true`], {
      env: { ...process.env, npm_lifecycle_event: "npx" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    sh.stdout.on("data", (chunk: Buffer) => (output += chunk));
    let tree: number[] = [];
    try {
      await eventually(() => (output.includes("loaded") ? true : undefined), 20_000);
      tree = descendants(sh.pid!);
      process.kill(sh.pid!, "SIGKILL");
      await eventually(() => (output.includes("stopped") ? true : undefined), 6000).catch(() => {
        throw new Error(`not stopped: ${JSON.stringify(output)}`);
      });
    } finally {
      for (const pid of [sh.pid!, ...tree]) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
