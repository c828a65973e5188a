import { existsSync, readFileSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { runConformanceCheck } from "../conformance/check.js";
import { notifierConfigFromEnv, startNotifierService } from "../notifier/service.js";
import { openInbox, parseInbox } from "../receiver.js";
import type { ProfileName } from "../verify/outcome.js";

/** A usage error: the message, then exit code 2. Anything else that fails exits 1. */
class UsageError extends Error {}

// Taken at load: a parent (npm's `sh -c`) that dies while the notifier starts still counts as gone.
const startingParent = process.ppid;

const COMMANDS_USAGE = `herald-receiver <command> [options]    (herald-receiver <command> --help for one command; --version)

  notifier       Receive chat webhooks and notify offline members by email, SMS and Web Push.
  dead-letters   List the events whose handlers gave up, or make them due again (--replay).
  check URL      Fire the conformance cases at a webhook receiver and grade it.

Exit codes: 0 ok, 1 a run-time failure (or a failed check), 2 a usage error.
`;

const NOTIFIER_USAGE = `herald-receiver notifier [options]

Receive chat webhooks and notify offline members by email, SMS and Web Push.
  --port N               where to listen (HERALD_RECEIVER_PORT; default 3000, not Herald's 8080)
  --host H               (HERALD_RECEIVER_HOST; default 127.0.0.1)
  --secret-file FILE     the signing secrets, one per line (HERALD_RECEIVER_SECRET_FILE)
  --inbox SPEC           sqlite:FILE or postgres://URL (HERALD_RECEIVER_INBOX)
  --contacts FILE        user id -> contact details (HERALD_RECEIVER_CONTACTS)
  --secret S             a secret on the command line (repeatable). Avoid it: ps shows it to every
                         user of the machine; prefer HERALD_RECEIVER_SECRETS (comma-separated) or --secret-file.
Channels and the rest: HERALD_RECEIVER_* variables (see the README).
`;

const DEAD_LETTERS_USAGE = `herald-receiver dead-letters --inbox sqlite:FILE|postgres://URL?schema=S [--replay [SEQ…]] [--json]

List the events whose handlers gave up (seq, key, type, attempts, last error), or make them (all,
or the given ones) due again for a running receiver to process.
`;

const CHECK_USAGE = `herald-receiver check URL --profile sendbird|stream|standard-webhooks|standard --secret S [--secret ROTATED] [--timeout-ms N] [--json]

Fire the conformance cases at a webhook receiver and grade it (exit 1 when a case fails).
`;

/** parseArgs with --help everywhere, and its complaints as usage errors. */
function parse<T extends ParseArgsConfig["options"]>(args: string[], usage: string, options: T, positionals = false) {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean }>>;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } } as T,
      allowPositionals: positionals,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage);
    return undefined;
  }
  return parsed;
}

/** Secrets, one per line (blank lines and # comments skipped). */
function readSecretFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(
      `cannot read the secret file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

async function notifier(args: string[]) {
  const parsed = parse(args, NOTIFIER_USAGE, {
    port: { type: "string" },
    host: { type: "string" },
    secret: { type: "string", multiple: true },
    "secret-file": { type: "string" },
    inbox: { type: "string" },
    contacts: { type: "string" },
  });
  if (!parsed) return;
  const { values } = parsed;
  const config = notifierConfigFromEnv();
  if (values.port) {
    if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535)
      throw new UsageError(`--port is not a port: "${values.port}"`);
    config.port = Number(values.port);
  }
  if (values.host) config.host = values.host;
  const secretFile = values["secret-file"] ?? process.env.HERALD_RECEIVER_SECRET_FILE;
  if (secretFile) config.secrets = readSecretFile(secretFile);
  if (values.secret) config.secrets = values.secret;
  if (config.secrets.length === 0) {
    throw new UsageError("no secrets: set HERALD_RECEIVER_SECRETS, or pass --secret-file FILE (one per line)");
  }
  if (values.inbox) config.inbox = parseInbox(values.inbox);
  if (values.contacts) config.contactsFile = values.contacts;
  if (!config.smtp && !config.sms && !config.vapid) {
    throw new UsageError(
      "no notification channel: set HERALD_RECEIVER_SMTP_URL, the HERALD_RECEIVER_SMS_* or the HERALD_RECEIVER_VAPID_* variables (at least one)",
    );
  }
  const service = await startNotifierService(config);
  console.log(`listening ${service.url}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`error: stopping the notifier failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // Under npm (`npx herald-receiver notifier`), npm hands SIGTERM to the `sh -c` between it and this
  // process, and sh dies without passing it on: being adopted by another process is the signal then.
  if (process.env.npm_lifecycle_event !== undefined) {
    setInterval(() => process.ppid !== startingParent && stop(), 200).unref();
  }
}

/** `standard` is what Herald calls the profile (`herald endpoint create --profile standard`): the same one. */
const PROFILE_ALIASES: Readonly<Record<string, ProfileName>> = { standard: "standard-webhooks" };
const PROFILE_NAMES: readonly ProfileName[] = ["sendbird", "stream", "standard-webhooks"];
function profileNamed(given: string): ProfileName {
  const name = PROFILE_ALIASES[given] ?? given;
  if (!(PROFILE_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`--profile must be sendbird, stream or standard-webhooks (or standard), not "${given}"`);
  }
  return name as ProfileName;
}

async function check(args: string[]) {
  const parsed = parse(
    args,
    CHECK_USAGE,
    {
      profile: { type: "string", default: "sendbird" },
      secret: { type: "string", multiple: true },
      "timeout-ms": { type: "string", default: "5000" },
      json: { type: "boolean", default: false },
    },
    true,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  const [url] = positionals;
  const [secret, rotatedSecret] = values.secret ?? [];
  if (!url || !secret) throw new UsageError("give the receiver's URL and --secret S (herald-receiver check --help)");
  const report = await runConformanceCheck({
    url,
    profile: profileNamed(values.profile as string),
    secret,
    ...(rotatedSecret ? { rotatedSecret } : {}),
    timeoutMs: Number(values["timeout-ms"]),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : report.table);
  process.exitCode = report.passed ? 0 : 1;
}

async function deadLetters(args: string[]) {
  const parsed = parse(
    args,
    DEAD_LETTERS_USAGE,
    { inbox: { type: "string" }, replay: { type: "boolean", default: false }, json: { type: "boolean" } },
    true,
  );
  if (!parsed) return;
  const { values, positionals } = parsed;
  if (!values.inbox) throw new UsageError("--inbox is required: sqlite:FILE or postgres://URL?schema=NAME");
  const option = parseInbox(values.inbox);
  // A mistyped path would otherwise open a new, empty inbox: "0 dead letters" instead of an error.
  if ("sqlite" in option && !existsSync(option.sqlite)) throw new Error(`no inbox at ${option.sqlite}`);
  const inbox = await openInbox(option);
  try {
    await inbox.ready();
    if (values.replay) {
      const seqs = positionals.map(Number);
      const count = await inbox.replay(seqs.length > 0 ? seqs : undefined);
      console.log(`${count} dead letter(s) due again`);
      return;
    }
    const letters = await inbox.deadLetters(1000);
    if (values.json) console.log(JSON.stringify(letters, null, 2));
    else {
      for (const letter of letters) {
        const error = (letter.lastError ?? "").split("\n")[0];
        console.log(`${letter.seq}\t${letter.key}\t${letter.type}\t${letter.attempts}\t${error}`);
      }
      console.log(`${letters.length} dead letter(s)`);
    }
  } finally {
    await inbox.close();
  }
}

/** The package's version, as `herald --version` prints Herald's: package.json sits two levels up from src/cli and dist/cli. */
function receiverVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => Promise<void>> = { notifier, "dead-letters": deadLetters, check };
const run = command ? commands[command] : undefined;
if (command === "--help" || command === "-h" || command === "help") {
  process.stdout.write(COMMANDS_USAGE);
} else if (command === "--version" || command === "-V" || command === "version") {
  process.stdout.write(`${receiverVersion()}\n`);
} else if (command === undefined) {
  // No command is a usage error, as with herald: the usage on stderr, exit 2.
  process.stderr.write(COMMANDS_USAGE);
  process.exitCode = 2;
} else if (!run) {
  process.stderr.write(`herald-receiver: unknown command "${command}"\n\n${COMMANDS_USAGE}`);
  process.exitCode = 2;
} else {
  run(rest).catch((error: unknown) => {
    console.error(`herald-receiver ${command}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}
