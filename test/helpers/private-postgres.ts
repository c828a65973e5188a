import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = join("/usr/lib/postgresql", readdirSync("/usr/lib/postgresql").sort().at(-1)!, "bin");

/**
 * A PostgreSQL cluster of the test's own (initdb into a temp dir, its own port), so a test can stop
 * and start the server without touching the shared one. Runs as the `postgres` OS user.
 */
export class PrivatePostgres {
  readonly #dir = mkdtempSync(join(tmpdir(), "herald-pg-"));
  readonly #data = join(this.#dir, "data");

  constructor(readonly port: number) {
    chmodSync(this.#dir, 0o777);
    const { uid, gid } = { uid: Number(this.#id("-u")), gid: Number(this.#id("-g")) };
    chownSync(this.#dir, uid, gid);
    this.#asPostgres(join(BIN, "initdb"), ["-D", this.#data, "-A", "trust", "-U", "root", "--no-sync"]);
  }

  get url(): string {
    return `postgres://root@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    const options = `-p ${this.port} -k ${this.#dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    this.#asPostgres(join(BIN, "pg_ctl"), [
      "-D",
      this.#data,
      "-o",
      options,
      "-l",
      join(this.#dir, "log"),
      "-w",
      "start",
    ]);
  }

  /** A fast shutdown: open connections are cut, as in a crash or failover of the database. */
  stop(): void {
    this.#asPostgres(join(BIN, "pg_ctl"), ["-D", this.#data, "-m", "fast", "-w", "stop"]);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {}
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #id(flag: string): string {
    return execFileSync("id", [flag, "postgres"]).toString().trim();
  }

  #asPostgres(command: string, args: string[]): void {
    execFileSync("runuser", ["-u", "postgres", "--", command, ...args], { stdio: "pipe" });
  }
}
