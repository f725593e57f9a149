// The management UI's build (DESIGN.md §2 management/ui): `npm ci` (prepare → cli/build.mjs) runs it
// into dist/ui, which management/server.ts serves. Everything is bundled and served by management
// itself: no CDN, no remote fonts, and nothing the strict CSP (no inline script or style) would block.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "/",
  publicDir: false,
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../dist/ui", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    // The polyfill is an inline script, which the CSP (script-src 'self') refuses; every browser the UI
    // supports has modulepreload.
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    sourcemap: false,
    reportCompressedSize: false,
    target: "es2022",
    assetsInlineLimit: 0,
  },
});
