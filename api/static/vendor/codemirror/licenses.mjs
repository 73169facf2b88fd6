// Writes LICENSES: every package esbuild put into codemirror.bundle.js, its version and licence text.
// Run after the build (npm run licenses); reads the build's metafile and node_modules only.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";

const meta = JSON.parse(readFileSync("meta.json", "utf8"));
const packages = new Set();
for (const input of Object.keys(Object.values(meta.outputs)[0].inputs)) {
  const path = input.split("node_modules/")[1];
  if (!path) continue;
  const parts = path.split("/");
  packages.add(parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]);
}
const rule = "=".repeat(78);
const out = ["Licences of the packages bundled into codemirror.bundle.js (from the npm registry; see README.txt).", ""];
for (const name of [...packages].sort()) {
  const dir = `node_modules/${name}`;
  const pkg = JSON.parse(readFileSync(`${dir}/package.json`, "utf8"));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  if (!file) throw new Error(`${name} has no licence file`);
  out.push(rule, `${name} ${pkg.version} (${pkg.license})`, rule, readFileSync(`${dir}/${file}`, "utf8").trim(), "");
}
writeFileSync("LICENSES", out.join("\n") + "\n");
