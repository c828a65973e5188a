import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import { formatNativeError } from "../api/native-errors.js";
import { HeraldError } from "../core/errors.js";

/**
 * Where `npm run build` puts the dashboard's assets (Vite, from `dashboard/`). Resolved from the
 * package root, so the compiled server (dist/dashboard) and the sources under tsx (src/dashboard)
 * serve the same files.
 */
export const DASHBOARD_ASSETS = fileURLToPath(new URL("../../dist/dashboard-ui/", import.meta.url));

/**
 * The dashboard runs only its own files and talks only to this Herald: no inline script, no other
 * origin, never framed (a token typed into it stays in this tab).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function secureHeaders(reply: FastifyReply): void {
  reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
  reply.header("x-content-type-options", "nosniff");
  reply.header("referrer-policy", "no-referrer");
}

/**
 * A path under /dashboard that can only be a probe: a `..` segment, a backslash, a `%` left after
 * decoding (double encoding), a control character. Answered 404 here, before the file server turns
 * it into a 500 and an error in the log.
 */
const isProbe = (path: string): boolean =>
  path.split(/[/\\]/).includes("..") || /[\\%]/.test(path) || [...path].some((char) => char.charCodeAt(0) < 0x20);

const isFile = (path: string): Promise<boolean> =>
  stat(path).then(
    (found) => found.isFile(),
    () => false,
  );

const notFound = (reply: FastifyReply) => {
  const { status, body } = formatNativeError(new HeraldError("not_found", "No such dashboard file."));
  return reply.status(status).send(body);
};

/**
 * Serves the web dashboard at `/dashboard`: hashed assets cached for good, and `index.html` (never
 * cached) for every other path under it, so a reload on `/dashboard/deliveries` opens that page.
 */
export async function registerDashboard(app: FastifyInstance, root = DASHBOARD_ASSETS): Promise<void> {
  const built = existsSync(`${root}index.html`);
  if (!built) {
    // A checkout whose build has not run: say so in the API's own format rather than a bare 404.
    const notBuilt = async (_request: unknown, reply: FastifyReply) => {
      const { status, body } = formatNativeError(
        new HeraldError("unavailable", "The dashboard has not been built: run `npm run build`."),
      );
      return reply.status(status).send(body);
    };
    app.get("/dashboard", notBuilt);
    app.get("/dashboard/*", notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root,
    // Only `reply.sendFile`: the routes below decide what is a page and what is a file.
    serve: false,
    // The build writes each file's .br and .gz beside it (scripts/build-dashboard.js): sent to clients that accept them.
    preCompressed: true,
    // Cache headers are ours: hashed assets forever, pages revalidated.
    cacheControl: false,
    setHeaders(response, path) {
      const immutable = path.includes("/assets/");
      response.setHeader("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  const page = async (_request: unknown, reply: FastifyReply) => {
    secureHeaders(reply);
    reply.header("cache-control", "no-cache");
    return reply.sendFile("index.html", root);
  };
  app.get("/dashboard", page);
  app.get("/dashboard/", page);
  // Hashed assets are files; any other path is a page of the single-page app.
  app.get("/dashboard/*", async (request, reply) => {
    const path = (request.params as { "*": string })["*"];
    // A precompressed copy is sent for its file when the client accepts it, never as a file of its own.
    if (isProbe(path) || /\.(br|gz)$/.test(path)) return notFound(reply);
    if (path.startsWith("assets/") || /\.[a-z0-9]+$/i.test(path)) {
      // Checked here so that a missing file gets the same answer as a probe, not the router's.
      if (!(await isFile(join(root, path)))) return notFound(reply);
      secureHeaders(reply);
      return reply.sendFile(path, root);
    }
    return page(request, reply);
  });
}
