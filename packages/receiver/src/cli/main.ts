import { parseArgs } from "node:util";
import { runConformanceCheck } from "../conformance/check.js";
import { notifierConfigFromEnv, startNotifierService } from "../notifier/service.js";
import { openInbox, parseInbox } from "../receiver.js";
import type { ProfileName } from "../verify/outcome.js";

const USAGE = `herald-receiver <command>

  notifier   Receive chat webhooks and notify offline members by email, SMS and Web Push.
             Options: --port N --host H --secret S (repeatable) --inbox sqlite:FILE|postgres://URL --contacts FILE
             Channels and the rest: HERALD_RECEIVER_* variables (see the README).
  dead-letters [--replay [SEQ…]] --inbox sqlite:FILE|postgres://URL?schema=S
             List the events whose handlers gave up (seq, key, type, attempts, last error), or make
             them (all, or the given ones) due again for a running receiver to process.
  check URL  Fire the conformance cases at a webhook receiver and grade it.
             Options: --profile sendbird|stream|standard-webhooks --secret S [--secret ROTATED] [--timeout-ms N] [--json]
`;

async function notifier(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      secret: { type: "string", multiple: true },
      inbox: { type: "string" },
      contacts: { type: "string" },
    },
  });
  const config = notifierConfigFromEnv();
  if (values.port) config.port = Number(values.port);
  if (values.host) config.host = values.host;
  if (values.secret) config.secrets = values.secret;
  if (values.inbox) config.inbox = parseInbox(values.inbox);
  if (values.contacts) config.contactsFile = values.contacts;
  const service = await startNotifierService(config);
  console.log(`listening ${service.url}`);
  const stop = () => void service.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

async function check(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      profile: { type: "string", default: "sendbird" },
      secret: { type: "string", multiple: true },
      "timeout-ms": { type: "string", default: "5000" },
      json: { type: "boolean", default: false },
    },
  });
  const [url] = positionals;
  const [secret, rotatedSecret] = values.secret ?? [];
  if (!url || !secret) throw new Error("usage: herald-receiver check <url> --profile P --secret S");
  const report = await runConformanceCheck({
    url,
    profile: values.profile as ProfileName,
    secret,
    ...(rotatedSecret ? { rotatedSecret } : {}),
    timeoutMs: Number(values["timeout-ms"]),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : report.table);
  process.exitCode = report.passed ? 0 : 1;
}

async function deadLetters(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { inbox: { type: "string" }, replay: { type: "boolean", default: false }, json: { type: "boolean" } },
  });
  if (!values.inbox) throw new Error("--inbox is required: sqlite:FILE or postgres://URL?schema=NAME");
  const inbox = await openInbox(parseInbox(values.inbox));
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

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => Promise<void>> = { notifier, "dead-letters": deadLetters, check };
const run = command ? commands[command] : undefined;
if (!run) {
  console.log(USAGE);
  process.exitCode = command ? 2 : 0;
} else {
  run(rest).catch((error: unknown) => {
    console.error(`herald-receiver ${command}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  });
}
