#!/usr/bin/env node
// Writes one schemas/*.json file from CustomResourceDefinitions in a git
// checkout of their upstream project, so the check runs offline on exactly the
// schemas a cluster installs. Only the served versions' openAPIV3Schema is
// kept, without `description` texts (documentation, not validation).
//
//   node vendor-crds.js --git-dir DIR --repo OWNER/NAME --tag TAG \
//        --out schemas/NAME.json [--label TEXT] [--kinds K1,K2] PATH...
//
// PATHs are CRD YAML files at TAG (several CRDs per file are fine); --kinds
// keeps only those kinds. How each shipped file was made is in schemas/README.md.
"use strict";

const fs = require("node:fs");
const { execFileSync } = require("node:child_process");
const yaml = require("js-yaml");

function parseArgs(argv) {
  const opts = { paths: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg.startsWith("--")) opts[arg.slice(2)] = argv[++i];
    else opts.paths.push(arg);
  }
  for (const key of ["git-dir", "repo", "tag", "out"]) {
    if (!opts[key]) throw new Error(`--${key} is required`);
  }
  return opts;
}

// Drops documentation strings; keeps a property that happens to be named
// "description" (inside `properties`).
function stripDescriptions(node, inProperties = false) {
  if (Array.isArray(node)) return node.map((n) => stripDescriptions(n));
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (!inProperties && key === "description" && typeof value === "string") continue;
    out[key] = stripDescriptions(value, !inProperties && (key === "properties" || key === "patternProperties"));
  }
  return out;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const git = (...args) => execFileSync("git", ["--git-dir", opts["git-dir"], ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  const commit = git("rev-parse", `${opts.tag}^{commit}`).trim();
  const wanted = opts.kinds ? new Set(opts.kinds.split(",")) : null;
  const kinds = {};
  for (const file of opts.paths) {
    for (const crd of yaml.loadAll(git("show", `${commit}:${file}`))) {
      if (!crd || crd.kind !== "CustomResourceDefinition") continue;
      const { group, names, versions } = crd.spec;
      if (wanted && !wanted.has(names.kind)) continue;
      for (const version of versions) {
        if (!version.served) continue;
        kinds[`${group}/${version.name} ${names.kind}`] = stripDescriptions(version.schema.openAPIV3Schema);
      }
    }
  }
  const out = {
    source: {
      repository: `https://github.com/${opts.repo}`,
      tag: opts.tag,
      commit,
      paths: opts.paths,
      label: opts.label || `${opts.repo} ${opts.tag}`,
    },
    kinds: Object.fromEntries(Object.entries(kinds).sort(([a], [b]) => a.localeCompare(b))),
  };
  fs.writeFileSync(opts.out, JSON.stringify(out) + "\n");
  console.log(`${opts.out}: ${Object.keys(kinds).length} kind versions from ${opts.repo}@${opts.tag} (${commit})`);
}

main();
