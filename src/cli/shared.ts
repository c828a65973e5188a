import { type Command, InvalidArgumentError, Option } from "commander";
import { adminCredential, appCredential, type Credential, HeraldClient, heraldUrl } from "./client.js";

/** What every command prints through: stdout for results, one line each. */
export const say = (text: string) => process.stdout.write(`${text}\n`);
/** `--json`: the API's JSON and nothing else; otherwise a few lines for people. */
export const show = (json: boolean, value: unknown, human: () => string) => say(json ? JSON.stringify(value) : human());
export const SHOWN_ONCE = "shown only this once: keep it now";

/** `label: value` lines with every value in one column, however long the longest label. */
export const fields = (rows: readonly (readonly [string, string])[]) => {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join("\n");
};

/** Colours only for a person at a terminal (and never with NO_COLOR): scripts and pipes get plain text. */
export const colours = process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb";
const paint = (code: number) => (text: string) => (colours ? `\u001b[${code}m${text}\u001b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);
/** A status code in the colour of what it means. */
export const statusColour = (status: number | null, text: string) =>
  status !== null && status >= 200 && status < 300
    ? green(text)
    : status !== null && status < 500
      ? yellow(text)
      : red(text);

// Option parsers: a bad value is a usage error naming the option.
export const integerAtLeast = (min: number) => (raw: string) => {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`must be an integer >= ${min}.`);
  }
  return value;
};
/**
 * `50`, or `word` (none, default) for a limit sent as null; the API checks the range. The parser keeps
 * the word as text: commander turns a parser's null into "".
 */
export const integerOr =
  <Word extends string>(word: Word) =>
  (raw: string): number | Word => {
    if (raw === word) return word;
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new InvalidArgumentError(`must be an integer >= 1, or ${word}.`);
    return Number(raw);
  };
export const nullIf = <Word extends string>(value: number | Word, word: Word) => (value === word ? null : value);
export const list = (raw: string) =>
  raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
const SCOPES = ["publish", "read", "manage"];
export const scopes = (raw: string) => {
  const given = list(raw);
  const unknown = given.filter((scope) => !SCOPES.includes(scope));
  if (given.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `scopes are ${SCOPES.join(", ")}${unknown.length > 0 ? `, not ${unknown.join(", ")}` : ""}.`,
    );
  }
  return [...new Set(given)];
};
export const header = (raw: string, previous: Record<string, string> = {}) => {
  const at = raw.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError("must be NAME=VALUE.");
  return { ...previous, [raw.slice(0, at).trim()]: raw.slice(at + 1) };
};
/** An RFC 3339 time, or a duration back from now (`90s`, `15m`, `2h`, `7d`), as RFC 3339. */
export const time = (raw: string) => {
  const ago = /^(\d+)([smhd])$/.exec(raw);
  if (ago) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "s" | "m" | "h" | "d"];
    const at = Date.now() - Number(ago[1]) * unit;
    // Nothing Herald holds was created before 1970; further back is a typo, and past ±275,000 years no date at all.
    if (!Number.isFinite(at) || at < 0) throw new InvalidArgumentError(`${raw} ago is before 1970.`);
    return new Date(at).toISOString();
  }
  if (!/^\d{4}-\d\d-\d\dT/.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw new InvalidArgumentError(
      "must be an RFC 3339 time (2026-01-31T12:00:00Z) or a duration back from now (15m, 2h, 7d).",
    );
  }
  return new Date(Date.parse(raw)).toISOString();
};

export interface ClientOptions {
  url?: string;
  json?: boolean;
  token?: string;
  app?: string;
}

export interface Context {
  json: boolean;
  client: HeraldClient;
  /** The credential the command acts with. */
  credential: Credential;
}

/** The options given before any command (`herald --url X --json …`). */
const globalOptions = (command: Command): ClientOptions => {
  let root = command;
  while (root.parent) root = root.parent;
  return root.opts<ClientOptions>();
};

/**
 * Runs a client command. `herald --url X …` names Herald's URL everywhere; commands whose own
 * `--url` is an endpoint's URL (endpoint create/update) take Herald's only before the command.
 */
export async function asClient(
  command: Command,
  as: "admin" | "app",
  work: (context: Context) => Promise<void>,
  ownUrlIsHeralds = true,
): Promise<void> {
  const local = command.opts<ClientOptions>();
  const global = globalOptions(command);
  const client = new HeraldClient(heraldUrl((ownUrlIsHeralds ? local.url : undefined) ?? global.url));
  try {
    const credential = as === "admin" ? adminCredential() : appCredential(local);
    await work({ json: Boolean(local.json ?? global.json), client, credential });
  } finally {
    await client.close();
  }
}

/** The options every client command takes; app-scoped ones also say which app. */
export function clientCommand(
  parent: Command,
  name: string,
  description: string,
  as: "admin" | "app",
  heraldUrl = true,
) {
  const command = parent.command(name).description(description).option("--json", "print the API's JSON only");
  if (heraldUrl) command.option("--url <url>", "Herald's base URL (HERALD_URL)");
  if (as === "app") {
    command
      .option("--token <token>", "an API token of the app (HERALD_API_TOKEN)")
      .option("--app <id>", "act for this app with the admin token (HERALD_APP_ID)");
  }
  return command;
}

/** A query string from the options that are set (`?a=1&b=2`, or nothing). */
export const queryOf = (options: Record<string, string | number | undefined>) => {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options)) if (value !== undefined) query.set(name, String(value));
  const text = query.toString();
  return text === "" ? "" : `?${text}`;
};
export const pageQuery = (options: { limit?: number; cursor?: string }) =>
  queryOf({ limit: options.limit, cursor: options.cursor });
export const withPaging = (command: Command) =>
  command
    .option("--limit <n>", "items per page (1-500, default 50)", integerAtLeast(1))
    .option("--cursor <cursor>", "the page after the one that printed this cursor");
export const more = (next: string | null) => (next ? `\nmore: add --cursor ${next}` : "");
export const id = (value: string) => encodeURIComponent(value);
export const overlapBody = (overlap: number | undefined) =>
  overlap === undefined ? undefined : { overlap_seconds: overlap };
export const overlapOption = (what: string) =>
  new Option("--overlap <seconds>", `how long ${what} stays valid (default 24 h)`).argParser(integerAtLeast(0));
export const rows = (lines: string[], empty: string) => (lines.length === 0 ? empty : lines.join("\n"));

// Taken when the CLI loads: a parent that dies before a command starts watching still counts.
const startingParent = process.ppid;

/**
 * Under npm (`npx herald …`, or a script without `exec`), npm hands SIGTERM to the `sh -c` between
 * it and Herald's process, and sh dies without passing it on: the process is left running, adopted
 * by another. Being adopted is the signal, then: `stop` is called once it happens, or at once if it
 * already has.
 */
export function stopWhenAdopted(stop: () => void): void {
  if (process.env.npm_lifecycle_event === undefined) return;
  const watch = setInterval(() => {
    if (process.ppid === startingParent) return;
    clearInterval(watch);
    stop();
  }, 200);
  watch.unref();
}
