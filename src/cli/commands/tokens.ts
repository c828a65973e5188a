import type { Command } from "commander";
import {
  asClient,
  clientCommand,
  id,
  more,
  overlapBody,
  overlapOption,
  pageQuery,
  rows,
  SHOWN_ONCE,
  scopes,
  show,
  withPaging,
} from "../shared.js";
import { describeRotatedToken, type RotatedToken } from "./apps.js";

// ── tokens: an app's API tokens (master token, or admin with --app) ─────────────────────────────

interface TokenJson {
  id: string;
  kind: string;
  preview: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
}

export function registerTokenCommands(program: Command): void {
  const tokens = program.command("token").description("Manage an app's API tokens (needs its master token)");

  clientCommand(tokens, "create", "Create a secondary API token; it never signs webhooks", "app")
    .option("--scope <scopes>", "what it may do, comma-separated: publish, read, manage (default all)", scopes)
    .action((options: { scope?: string[] }, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const body = options.scope === undefined ? undefined : { scopes: options.scope };
        const created = (await client.call("POST", "/v1/tokens", credential, body)) as TokenJson & { token: string };
        show(
          json,
          created,
          () =>
            `id:     ${created.id}\nscopes: ${created.scopes.join(", ")}\n` +
            `token:  ${created.token}\n  (the API token, ${SHOWN_ONCE})`,
        );
      }),
    );

  withPaging(clientCommand(tokens, "list", "List the app's tokens (previews only)", "app")).action(
    (options: { limit?: number; cursor?: string }, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const page = await client.call("GET", `/v1/tokens${pageQuery(options)}`, credential);
        show(
          json,
          page,
          () =>
            rows(
              (page.tokens as TokenJson[]).map(
                (t) =>
                  `${t.id}  ${t.kind.padEnd(9)}  ${t.preview}  ${t.scopes.join(",")}` +
                  (t.expires_at ? `  (expires ${t.expires_at})` : ""),
              ),
              "no tokens",
            ) + more(page.next_cursor),
        );
      }),
  );

  clientCommand(tokens, "revoke", "Revoke a secondary token", "app")
    .argument("<id>", "the token's id (tok_…, from token list)")
    .action((tokenId: string, _options: unknown, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        await client.call("DELETE", `/v1/tokens/${id(tokenId)}`, credential);
        show(json, { id: tokenId, revoked: true }, () => `revoked token ${tokenId}`);
      }),
    );

  clientCommand(tokens, "rotate-master", "Rotate the app's master token; the old one keeps working a while", "app")
    .addOption(overlapOption("the previous token"))
    .action((options: { overlap?: number }, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const rotated = (await client.call(
          "POST",
          "/v1/tokens/master/rotate",
          credential,
          overlapBody(options.overlap),
        )) as RotatedToken;
        show(json, rotated, () => describeRotatedToken(rotated));
      }),
    );
}
