import type { Command } from "commander";
import {
  asClient,
  clientCommand,
  fields,
  id,
  integerOr,
  more,
  nullIf,
  overlapBody,
  overlapOption,
  pageQuery,
  rows,
  SHOWN_ONCE,
  show,
  withPaging,
} from "../shared.js";

// ── apps: the deployment admin ──────────────────────────────────────────────────────────────────

interface AppJson {
  id: string;
  name: string;
  created_at: string;
  /** Events per second; null: the deployment's default. */
  publish_rate_limit?: number | null;
}
export interface RotatedToken {
  app_id: string;
  api_token: string;
  previous_token_expires_at: string;
}
const describeApp = (app: AppJson, more: [string, string][] = []) =>
  fields([
    ["app_id", app.id],
    ["name", app.name],
    ["created_at", app.created_at],
    ["publish_rate_limit", app.publish_rate_limit ? `${app.publish_rate_limit} events/s` : "the deployment's default"],
    ...more,
  ]);
export const describeRotatedToken = (rotated: RotatedToken) =>
  `api_token: ${rotated.api_token}\n  (the new master token, ${SHOWN_ONCE}; it signs every webhook from now on)\n` +
  `the previous master token authenticates until ${rotated.previous_token_expires_at}`;

export function registerAppCommands(program: Command): void {
  const apps = program.command("app").description("Manage apps (tenants), with the admin token");

  clientCommand(apps, "create", "Create an app and print its id and master API token (shown only this once)", "admin")
    .requiredOption("--name <name>", "a name for the app")
    .action((options: { name: string }, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        const created = (await client.call("POST", "/v1/apps", credential, { name: options.name })) as AppJson & {
          api_token: string;
        };
        show(
          json,
          created,
          () =>
            `${describeApp(created, [["api_token", created.api_token]])}\n` +
            `  (the master API token, ${SHOWN_ONCE}; it signs every webhook)`,
        );
      }),
    );

  withPaging(clientCommand(apps, "list", "List apps, newest first", "admin")).action(
    (options: { limit?: number; cursor?: string }, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        const page = await client.call("GET", `/v1/apps${pageQuery(options)}`, credential);
        show(
          json,
          page,
          () =>
            rows(
              (page.apps as AppJson[]).map((app) => `${app.id}  ${app.created_at}  ${app.name}`),
              "no apps",
            ) + more(page.next_cursor),
        );
      }),
  );

  clientCommand(apps, "get", "Show an app", "admin")
    .argument("<id>", "the app's id")
    .action((appId: string, _options: unknown, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        const app = (await client.call("GET", `/v1/apps/${id(appId)}`, credential)) as AppJson;
        show(json, app, () => describeApp(app));
      }),
    );

  clientCommand(apps, "update", "Change an app's limits", "admin")
    .argument("<id>", "the app's id")
    .requiredOption(
      "--publish-rate-limit <n|default>",
      "events per second the app may publish (1-1000000); default: HERALD_PUBLISH_RATE_LIMIT",
      integerOr("default"),
    )
    .action((appId: string, options: { publishRateLimit: number | "default" }, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        const app = (await client.call("PATCH", `/v1/apps/${id(appId)}`, credential, {
          publish_rate_limit: nullIf(options.publishRateLimit, "default"),
        })) as AppJson;
        show(json, app, () => describeApp(app));
      }),
    );

  clientCommand(apps, "rotate-token", "Give an app a new master API token; the old one keeps working a while", "admin")
    .argument("<id>", "the app's id")
    .addOption(overlapOption("the previous token"))
    .action((appId: string, options: { overlap?: number }, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        const rotated = (await client.call(
          "POST",
          `/v1/apps/${id(appId)}/rotate-token`,
          credential,
          overlapBody(options.overlap),
        )) as RotatedToken;
        show(json, rotated, () => describeRotatedToken(rotated));
      }),
    );

  clientCommand(apps, "delete", "Delete an app and everything it has: tokens, endpoints, events, deliveries", "admin")
    .argument("<id>", "the app's id")
    .action((appId: string, _options: unknown, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        await client.call("DELETE", `/v1/apps/${id(appId)}`, credential);
        show(json, { id: appId, deleted: true }, () => `deleted app ${appId}`);
      }),
    );

  const keys = apps
    .command("keys")
    .description("Manage an app's Stream API keys (api_key and api_secret), with the admin token");

  interface ApiKeyJson {
    api_key: string;
    created_at: string;
    signing: boolean;
  }

  clientCommand(
    keys,
    "create",
    "Create an API key and secret; the newest key signs Stream webhooks (secret shown once)",
    "admin",
  )
    .argument("<app_id>", "the app's id")
    .action((appId: string, _options: unknown, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        const created = (await client.call("POST", `/v1/apps/${id(appId)}/keys`, credential)) as ApiKeyJson & {
          api_secret: string;
        };
        show(
          json,
          { api_key: created.api_key, api_secret: created.api_secret, created_at: created.created_at },
          () =>
            `api_key:     ${created.api_key}\napi_secret:  ${created.api_secret}\n` +
            `  (the secret, ${SHOWN_ONCE}; from now on it signs the app's Stream webhooks)`,
        );
      }),
    );

  clientCommand(keys, "list", "List an app's API keys, newest (signing) first; secrets are never shown again", "admin")
    .argument("<app_id>", "the app's id")
    .action((appId: string, _options: unknown, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        const listed = (await client.call("GET", `/v1/apps/${id(appId)}/keys`, credential)) as { keys: ApiKeyJson[] };
        show(json, listed, () =>
          rows(
            listed.keys.map((key) => `${key.api_key}  ${key.created_at}${key.signing ? "  (signs)" : ""}`),
            "no API keys",
          ),
        );
      }),
    );

  clientCommand(keys, "revoke", "Revoke an API key: it stops authenticating at once", "admin")
    .argument("<app_id>", "the app's id")
    .argument("<api_key>", "the key to revoke")
    .action((appId: string, apiKey: string, _options: unknown, command: Command) =>
      asClient(command, "admin", async ({ json, client, credential }) => {
        await client.call("DELETE", `/v1/apps/${id(appId)}/keys/${id(apiKey)}`, credential);
        show(json, { api_key: apiKey, revoked: true }, () => `revoked API key ${apiKey}`);
      }),
    );
}
