#!/usr/bin/env node
// Type-checks every ```ts block of every README (the root's, packages/*, examples/*, bench/, docs/)
// the way a user who pastes it would compile it: TypeScript strict, against the BUILT packages
// (their dist/ .d.ts, resolved through this package's node_modules), in three settings:
//   - module node16, the block as an ES module (a .mts file);
//   - module node16, the block as a CommonJS module (a .cts file: `import` becomes require(), no
//     top-level await);
//   - module esnext with moduleResolution bundler (a .ts file, as a Vite or esbuild app has it).
// Each block is its own program, so two blocks may augment express-session's SessionData differently.
//
// Markers, an HTML comment on the line right before the opening fence (invisible on GitHub and npm):
//   <!-- docs-check: skip -->  a fragment that is deliberately partial (not checked at all)
//   <!-- docs-check: esm -->   an ES module only (e.g. top-level await): not checked as CommonJS
//
// Run: `pnpm run typecheck` (part of `npm test`), or `node packages/docs-check/src/check-readme-code.js`
// after `pnpm run build`. Exits 1 and prints `file:line:col` of each error in the README itself.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const ROOT = path.resolve(__dirname, '..', '..', '..');
// Virtual files live in this package's folder, so imports resolve to its node_modules (the
// workspace's built @live-session/* packages and the same express/ioredis/socket.io users install).
const HERE = path.resolve(__dirname, '..');

const MODES = [
  { name: 'node16 ESM', ext: '.mts', options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 } },
  { name: 'node16 CJS', ext: '.cts', cjs: true, options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 } },
  { name: 'bundler', ext: '.ts', options: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler } },
];
const COMMON = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  types: ['node'],
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true,
};

/** The markdown files to check: README*.md anywhere outside node_modules, and everything in docs/. */
function markdownFiles() {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.md') && (/^README/i.test(entry.name) || path.relative(ROOT, full).startsWith(`docs${path.sep}`))) found.push(full);
    }
  };
  walk(ROOT);
  return found.sort();
}

/** The ```ts / ```typescript blocks of one file, with the line (1-based) of their first code line. */
function blocksOf(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const marker = /<!--\s*docs-check:\s*(\w+)\s*-->/.exec(lines[i - 1] ?? '')?.[1];
    if (marker && marker !== 'skip' && marker !== 'esm') throw new Error(`${file}:${i}: unknown docs-check marker "${marker}"`);
    let end = i + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith(open[2])) end++;
    blocks.push({ file, firstLine: i + 2, code: lines.slice(i + 1, end).join('\n'), marker });
    i = end;
  }
  return blocks;
}

const sourceCache = new Map();
function check(block, mode) {
  const rel = path.relative(ROOT, block.file);
  const fileName = path.join(HERE, `readme-block-${rel.replace(/[\\/]/g, '_')}-L${block.firstLine}${mode.ext}`);
  // `export {}` makes a block without imports a module too (a script would share one global scope).
  const text = `${block.code}\nexport {};\n`;
  const options = { ...COMMON, ...mode.options };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) => {
    if (name === fileName) return ts.createSourceFile(name, text, languageVersion, true);
    const key = `${mode.name}\0${name}`;
    if (!sourceCache.has(key)) sourceCache.set(key, getSourceFile(name, languageVersion, onError, shouldCreate));
    return sourceCache.get(key);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === fileName ? text : readFile(name));
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    if (d.file && d.file.fileName === fileName && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${rel}:${block.firstLine + line}:${character + 1} [${mode.name}] TS${d.code}: ${message}`;
    }
    return `${rel}:${block.firstLine} [${mode.name}] TS${d.code}: ${d.file ? `${path.relative(ROOT, d.file.fileName)}: ` : ''}${message}`;
  });
}

function main() {
  const blocks = markdownFiles().flatMap(blocksOf);
  const errors = [];
  let checked = 0;
  for (const block of blocks) {
    if (block.marker === 'skip') continue;
    checked++;
    for (const mode of MODES) if (!(mode.cjs && block.marker === 'esm')) errors.push(...check(block, mode));
  }
  const skipped = blocks.length - checked;
  if (errors.length > 0) {
    console.error(errors.join('\n'));
    console.error(`docs-check: ${errors.length} error(s) in the README code (${checked} ts blocks checked, ${skipped} skipped)`);
    process.exit(1);
  }
  console.log(`docs-check: ${checked} ts blocks of the READMEs compile (strict; node16 ESM, node16 CJS, bundler); ${skipped} skipped by marker`);
}

main();
