import { randomBytes } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { CliError } from "./errors.js";

/**
 * The deployment admin's token, shared by `herald serve` and the CLI's client commands on one
 * machine: HERALD_ADMIN_TOKEN when set, else the file at HERALD_ADMIN_TOKEN_FILE (default
 * `$XDG_CONFIG_HOME/herald/admin-token`, or `~/.config/herald/admin-token`), which `serve` creates.
 */

/** `~` and `~/…` become the home directory; relative paths are taken from the current directory. */
export function expandHome(path: string, home = homedir()): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return join(home, path.slice(2));
  return isAbsolute(path) ? path : resolve(path);
}

/** Where the admin token file is, as `serve` and the client commands both look for it. */
export function adminTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.HERALD_ADMIN_TOKEN_FILE;
  if (given) return expandHome(given);
  const xdg = env.XDG_CONFIG_HOME;
  // XDG: a relative XDG_CONFIG_HOME is invalid and ignored.
  const configHome = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".config");
  return join(configHome, "herald", "admin-token");
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;

/** The token in `path`, or undefined when there is no such file. */
function readTokenFile(path: string): string | undefined {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw new CliError(`cannot read the admin token file ${path}: ${errorCode(error) ?? (error as Error).message}`);
  }
  const token = content.trim();
  if (token === "") throw new CliError(`the admin token file ${path} is empty: delete it, or put a token in it`);
  return token;
}

/** For client commands: the admin token, or a one-line error saying how to get one. */
export function readAdminToken(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HERALD_ADMIN_TOKEN) return env.HERALD_ADMIN_TOKEN;
  const path = adminTokenFile(env);
  const token = readTokenFile(path);
  if (token === undefined) {
    throw new CliError(
      `no admin token: set HERALD_ADMIN_TOKEN or run herald serve once on this machine (no file at ${path})`,
    );
  }
  return token;
}

export interface ResolvedAdminToken {
  token: string;
  /** Where it came from: the environment, an existing file, or a file just written. */
  source: "env" | "file" | "created";
  /** The file, when the token is kept in one. */
  file?: string;
  /** Set when the file can be read by other users. */
  warning?: string;
}

/**
 * For `herald serve`: HERALD_ADMIN_TOKEN, else the token file, else a new random token written to
 * the file (directory 0700, file 0600). Two servers starting together agree on one token: the file
 * is published with link(2), which fails if another process published first, whose token is then used.
 */
export function resolveAdminToken(env: NodeJS.ProcessEnv = process.env): ResolvedAdminToken {
  if (env.HERALD_ADMIN_TOKEN) return { token: env.HERALD_ADMIN_TOKEN, source: "env" };
  const file = adminTokenFile(env);
  const existing = readTokenFile(file);
  if (existing !== undefined) {
    const mode = statSync(file).mode & 0o777;
    const warning =
      (mode & 0o077) !== 0
        ? `the admin token file ${file} can be read by other users (mode ${mode.toString(8)}); chmod 600 it`
        : undefined;
    return { token: existing, source: "file", file, ...(warning ? { warning } : {}) };
  }
  const token = randomBytes(32).toString("hex");
  const directory = dirname(file);
  const temporary = join(directory, `.admin-token.${process.pid}.${randomBytes(4).toString("hex")}`);
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    writeFileSync(temporary, `${token}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(temporary, 0o600); // whatever the umask
    try {
      linkSync(temporary, file);
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error;
      const winner = readTokenFile(file);
      if (winner === undefined) throw error;
      return { token: winner, source: "file", file };
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      `cannot write the admin token file ${file}: ${errorCode(error) ?? (error as Error).message} (set HERALD_ADMIN_TOKEN or HERALD_ADMIN_TOKEN_FILE)`,
    );
  } finally {
    try {
      unlinkSync(temporary);
    } catch {}
  }
  return { token, source: "created", file };
}
