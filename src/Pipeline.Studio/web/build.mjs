// Bundles the studio (src/app.js + uPlot) into one script and copies the page and styles next to it.
// Usage: node build.mjs OUTDIR (the MSBuild target passes obj/studio-web/).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2];
if (!out) {
  console.error("usage: node build.mjs OUTDIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const started = Date.now();
await build({
  entryPoints: ["src/app.js"],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["es2022"],
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
// uPlot's stylesheet first, ours after it.
writeFileSync(join(out, "app.css"), readFileSync("node_modules/uplot/dist/uPlot.min.css", "utf8") + "\n" + readFileSync("src/app.css", "utf8"));
copyFileSync("src/index.html", join(out, "index.html"));
console.log(`studio bundle written to ${out} in ${Date.now() - started} ms`);
