import type { Command } from "commander";
import { CONFIG_VARIABLES, loadConfig } from "../../core/config.js";
import { adminTokenFile } from "../admin-token.js";
import { heraldUrl } from "../client.js";
import { CliError } from "../errors.js";
import { say } from "../shared.js";

// ── config ──────────────────────────────────────────────────────────────────────────────────────

/** Variables only the CLI's client commands read. */
const CLIENT_VARIABLES = ["HERALD_URL", "HERALD_API_TOKEN", "HERALD_APP_ID"];
const SECRET_VARIABLES = new Set(["HERALD_ADMIN_TOKEN", "HERALD_API_TOKEN", "HERALD_METRICS_TOKEN"]);

/** A URL with its password masked (`postgres://herald:***@db/herald`); anything else as it is. */
function withoutPassword(value: string): string {
  if (!URL.canParse(value)) return value;
  const url = new URL(value);
  if (url.password === "") return value;
  url.password = "***";
  return url.href;
}

export function registerConfigCommand(program: Command): void {
  program
    .command("config")
    .description("Print the settings in effect, VAR=value: the environment's, else the defaults")
    .option("--json", "print them as JSON: {VAR: {value, from_environment}}, secrets masked")
    .action((options: { json?: boolean }, command: Command) => {
      const json = Boolean(options.json ?? command.parent?.opts<{ json?: boolean }>().json);
      const env = process.env;
      const lines: string[] = [];
      const settings: Record<string, { value: string; from_environment: boolean }> = {};
      const problems: string[] = [];
      const line = (name: string, value: string) => {
        const raw = env[name];
        const fromEnv = raw !== undefined && raw !== "";
        // Secrets are never printed, in either form: only whether one is set.
        // A password inside a URL (the database's) is masked the same way.
        const shown = SECRET_VARIABLES.has(name) ? (fromEnv ? "(set)" : "") : withoutPassword(value);
        lines.push(`${name}=${shown}${fromEnv ? "  # from the environment" : ""}`);
        settings[name] = { value: shown, from_environment: fromEnv };
      };
      for (const { env: name, default: fallback } of CONFIG_VARIABLES) {
        const raw = env[name];
        if (raw !== undefined && raw !== "") {
          try {
            loadConfig({ [name]: raw });
          } catch (error) {
            problems.push((error as Error).message);
          }
        }
        line(name, name === "HERALD_ADMIN_TOKEN_FILE" ? adminTokenFile(env) : raw || String(fallback));
      }
      for (const name of CLIENT_VARIABLES) {
        let value = env[name] ?? "";
        if (name === "HERALD_URL") {
          try {
            value = heraldUrl(undefined, env);
          } catch (error) {
            // A bad HERALD_PORT is reported once, above.
            if (env.HERALD_URL) problems.push((error as Error).message);
          }
        }
        line(name, value);
      }
      say(json ? JSON.stringify(settings) : lines.join("\n"));
      if (problems.length > 0) throw new CliError(problems.join("; "));
    });
}
