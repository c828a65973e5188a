import { Command } from "commander";
import { registerAppCommands } from "./commands/apps.js";
import { registerCompletionCommand } from "./commands/completion.js";
import { registerConfigCommand } from "./commands/config.js";
import { registerDeliveryCommands } from "./commands/deliveries.js";
import { registerEndpointCommands } from "./commands/endpoints.js";
import { registerEventCommands } from "./commands/events.js";
import { registerListenCommand } from "./commands/listen.js";
import { registerServerCommands } from "./commands/server.js";
import { registerTokenCommands } from "./commands/tokens.js";
import { registerTriggerCommand } from "./commands/trigger.js";
import { heraldVersion } from "./version.js";

/**
 * `herald`: `serve` and `migrate` run Herald here; every other command is a client of a running
 * Herald's HTTP API (`--url`, HERALD_URL), so it works from any directory and from other machines,
 * and never opens the database. One file per command group under `commands/`.
 *
 * Exit codes: 0 done, 1 the API refused or something failed at run time, 2 a usage error (unknown
 * command or option, a bad or missing value).
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The whole command tree; built without parsing, so tests and completion can walk it. */
export function buildProgram(): Command {
  const program = new Command("herald")
    .description("Self-hosted webhooks for chat and calls applications.")
    // Inherited by every command defined below: commander reports instead of exiting, and we pick the code.
    .exitOverride()
    .showSuggestionAfterError()
    .version(heraldVersion(), "-V, --version", "print Herald's version")
    .enablePositionalOptions()
    .option("--url <url>", "Herald's base URL, before the command (HERALD_URL; default http://127.0.0.1:$HERALD_PORT)")
    .option("--json", "print the API's JSON only")
    .addHelpText(
      "after",
      `
Every command but serve and migrate talks to a running Herald over HTTP.
  apps:                the admin token (HERALD_ADMIN_TOKEN, else the file herald serve writes: HERALD_ADMIN_TOKEN_FILE)
  everything else:     --token <app token> (HERALD_API_TOKEN), or --app <app id> (HERALD_APP_ID) with the admin token

Exit codes: 0 ok, 1 the API refused or a run-time error, 2 a usage error.`,
    );
  registerServerCommands(program);
  registerAppCommands(program);
  registerEndpointCommands(program);
  registerTokenCommands(program);
  registerListenCommand(program);
  registerTriggerCommand(program);
  registerDeliveryCommands(program);
  registerEventCommands(program);
  registerConfigCommand(program);
  registerCompletionCommand(program);
  addHelpCommands(program);
  markRequiredOptions(program);
  return program;
}

/**
 * `help [command]` under every command that has subcommands, as commander's own, but a command of
 * the tree: commander's takes `--help` for a command name and fails (`herald help --help`), while
 * this one answers it like any other command.
 */
function addHelpCommands(parent: Command): void {
  if (parent.commands.length === 0) return;
  for (const child of parent.commands) addHelpCommands(child);
  parent.helpCommand(false);
  parent
    .command("help")
    .argument("[command...]", "the command to describe, e.g. app keys")
    .description("display help for command")
    .action((names: string[]) => {
      let target = parent;
      for (const name of names) {
        const found = target.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (!found) parent.error(`error: unknown command '${names.join(" ")}'`);
        else target = found;
      }
      target.help();
    });
}

/** Says "(required)" in the help of every option a command cannot run without. */
function markRequiredOptions(command: Command): void {
  for (const option of command.options) {
    if (option.mandatory && !option.description.startsWith("(required)")) {
      option.description = `(required) ${option.description}`;
    }
  }
  for (const child of command.commands) markRequiredOptions(child);
}
