import { CommanderError } from "commander";
import { CliError } from "./errors.js";
import { buildProgram, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "./program.js";

// `herald config | head -1`: a reader that went away is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => process.exit(error.code === "EPIPE" ? 0 : 1));
}

/** Help and version are successes; every other complaint of commander's is a usage error. */
const SUCCESS_CODES = new Set(["commander.helpDisplayed", "commander.version", "commander.help"]);

buildProgram()
  .parseAsync()
  .catch((error: unknown) => {
    if (error instanceof CommanderError) {
      // commander already printed its message (or the help).
      const ok = SUCCESS_CODES.has(error.code) && error.exitCode === 0;
      process.exit(ok ? EXIT_OK : EXIT_USAGE);
    }
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof CliError ? error.exitCode : EXIT_FAILED);
  });
