import { Command, Option } from "commander";
import { Apps } from "../apps/apps.js";
import { CONFIG_VARIABLES, loadConfig } from "../core/config.js";
import { createHerald } from "../herald.js";
import { openStore } from "../storage/open-store.js";

/** Commands that work on the database directly open it with the same settings the server uses. */
async function withStore<T>(work: (apps: Apps) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = openStore(config.databaseUrl, config);
  try {
    await store.migrate();
    return await work(new Apps(store));
  } finally {
    await store.close();
  }
}

const print = (json: boolean, value: Record<string, unknown>, text: string) =>
  console.log(json ? JSON.stringify(value) : text);

const program = new Command("herald").description("Self-hosted webhooks for chat and calls applications.");

program
  .command("serve")
  .description("Run Herald: the APIs and the delivery worker (settings from HERALD_* variables)")
  .addOption(new Option("--role <role>", "which parts run in this process").choices(["all", "api", "worker"]))
  .option("--port <port>", "HTTP port (HERALD_PORT)", (value) => Number.parseInt(value, 10))
  .action(async (options: { role?: "all" | "api" | "worker"; port?: number }) => {
    const herald = await createHerald({
      ...(options.role ? { role: options.role } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
    });
    await herald.listen();
    const stop = async () => {
      await herald.close();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });

program
  .command("migrate")
  .description("Bring the database schema up to date (serve also does this on start)")
  .action(async () => {
    await withStore(async () => undefined);
    console.log("schema up to date");
  });

const app = program.command("app").description("Manage apps (tenants)");
app
  .command("create")
  .description("Create an app and print its id and master API token (shown only this once)")
  .requiredOption("--name <name>", "a name for the app")
  .option("--json", "print JSON")
  .action(async (options: { name: string; json?: boolean }) => {
    const { app: created, apiToken } = await withStore((apps) => apps.create(options.name));
    print(
      Boolean(options.json),
      { app_id: created.id, api_token: apiToken },
      `app_id:    ${created.id}\napi_token: ${apiToken}\nKeep the token safe: it signs every webhook and is not shown again.`,
    );
  });
app
  .command("token")
  .description("Create a secondary API token for an app: it can call the API but never signs webhooks")
  .requiredOption("--app-id <id>", "the app")
  .option("--json", "print JSON")
  .action(async (options: { appId: string; json?: boolean }) => {
    const { token } = await withStore((apps) => apps.createSecondaryToken(options.appId));
    print(Boolean(options.json), { app_id: options.appId, api_token: token }, `api_token: ${token}`);
  });

program
  .command("config")
  .description("List the environment variables Herald reads, with their defaults")
  .action(() => {
    for (const { env, default: value } of CONFIG_VARIABLES) console.log(`${env}=${value}`);
  });

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
