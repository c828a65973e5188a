// Builds the dashboard into dist/dashboard-ui, which Herald serves at /dashboard (src/dashboard).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/dashboard/",
  // Preact's JSX runtime, compiled by Vite's own transformer: no framework plugin needed.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard-ui", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // No inline assets: the page's Content-Security-Policy allows only its own files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  logLevel: "warn",
});
