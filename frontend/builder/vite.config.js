// Builds the workflow builder (issue 22) into one IIFE script + one stylesheet under the definitions app's
// static files; scripts/bootstrap runs it (nothing is fetched at page load).
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  logLevel: "warn",
  build: {
    outDir: here("../../apps/definitions/static/definitions/builder"),
    emptyOutDir: true,
    sourcemap: false,
    lib: {
      entry: here("src/main.jsx"),
      name: "DriftBuilder",
      formats: ["iife"],
      fileName: () => "builder.js",
      cssFileName: "builder",
    },
  },
});
