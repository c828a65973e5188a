import { type Command, Option } from "commander";
import { type HeraldConfig, loadConfig } from "../../core/config.js";
import { type ResolvedAdminToken, resolveAdminToken } from "../admin-token.js";
import { integerAtLeast, say, stopWhenAdopted } from "../shared.js";

/** `serve` and `migrate`: Herald itself, in this process. */

export function registerServerCommands(program: Command): void {
  program
    .command("serve")
    .description("Run Herald: the APIs and the delivery worker (settings from HERALD_* variables)")
    .addOption(
      new Option("--role <role>", "which parts run in this process (HERALD_ROLE)").choices(["all", "api", "worker"]),
    )
    .option("--port <port>", "HTTP port (HERALD_PORT)", integerAtLeast(0))
    .action(async (options: { role?: HeraldConfig["role"]; port?: number }) => {
      const [{ createHerald }, { createLogger }] = await Promise.all([
        import("../../herald.js"),
        import("../../core/logger.js"),
      ]);
      const overrides: Partial<HeraldConfig> = {
        ...(options.role ? { role: options.role } : {}),
        ...(options.port !== undefined ? { port: options.port } : {}),
      };
      const config = loadConfig(process.env, overrides);
      const logger = createLogger(config.logLevel, undefined, config.logFormat);
      // A worker serves no API: it needs no admin token, and writes no file.
      let admin: ResolvedAdminToken | undefined;
      if (config.role !== "worker") {
        admin = resolveAdminToken(process.env);
        if (admin.source === "created") {
          logger.info({ adminTokenFile: admin.file }, "admin token created in this file (the herald CLI reads it)");
        } else if (admin.source === "file") {
          logger.info({ adminTokenFile: admin.file }, "admin token read from this file");
        }
        if (admin.warning) logger.warn(admin.warning);
      }
      const herald = await createHerald({
        ...overrides,
        logger,
        ...(admin ? { adminToken: admin.token, ...(admin.file ? { adminTokenFile: admin.file } : {}) } : {}),
      });
      let stopping = false;
      const stop = async (reason: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ reason }, "shutting down");
        try {
          await herald.close();
        } catch (error) {
          logger.error({ err: error }, "shutdown failed");
          process.exit(1);
        }
        process.exit(0);
      };
      // A second signal while stopping takes the default action: the process ends at once.
      process.once("SIGINT", () => void stop("SIGINT"));
      process.once("SIGTERM", () => void stop("SIGTERM"));
      stopWhenAdopted(() => void stop("the npm process that started Herald has exited"));
      await herald.listen();
    });

  program
    .command("migrate")
    .description("Bring the database schema up to date (serve also does this on start)")
    .action(async () => {
      const { openStore } = await import("../../storage/open-store.js");
      const config = loadConfig();
      const store = openStore(config.databaseUrl, config);
      let steps: number;
      try {
        steps = await store.migrate();
      } finally {
        await store.close();
      }
      const { SCHEMA_VERSION: version } = await import("../../storage/migrations.js");
      say(
        steps === 0
          ? `schema already up to date (version ${version})`
          : `applied ${steps} schema ${steps === 1 ? "step" : "steps"}; schema up to date (version ${version})`,
      );
    });
}
