#!/usr/bin/env node
// Checks every relative link of every Markdown file in the repository (git ls-files): the file it
// names exists, and a `#heading` it names is a heading of that file, slugged as GitHub does
// (github-slugger: the same slugs, `-1` for a repeated heading). A README that points at a section
// a rewrite removed is caught here instead of by a reader.
//
// Run: `pnpm run typecheck` (part of `npm test`), or `node packages/docs-check/src/check-links.mjs`.
// Exits 1 and prints `file:line: link` for each broken one.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const files = execFileSync('git', ['ls-files', '*.md'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);

/** The lines of a Markdown file that are not inside a fenced code block, with their numbers. */
function proseLines(text) {
  const lines = [];
  let fence = null;
  text.split('\n').forEach((line, i) => {
    const opening = /^\s*(```|~~~)/.exec(line);
    if (opening) {
      if (fence === null) fence = opening[1];
      else if (line.trim().startsWith(fence)) fence = null;
      return;
    }
    if (fence === null) lines.push({ line, number: i + 1 });
  });
  return lines;
}

/** The anchors GitHub gives the headings of a file. */
const anchorsOf = new Map();
function anchors(file) {
  if (!anchorsOf.has(file)) {
    const slugger = new GithubSlugger();
    const found = new Set();
    for (const { line } of proseLines(readFileSync(file, 'utf8'))) {
      const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
      // GitHub slugs the heading's text: link targets and inline markup reduced to what shows.
      if (heading) found.add(slugger.slug(heading[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*_]/g, '')));
    }
    anchorsOf.set(file, found);
  }
  return anchorsOf.get(file);
}

const broken = [];
for (const name of files) {
  const file = join(ROOT, name);
  if (!existsSync(file)) continue; // deleted in the working tree
  for (const { line, number } of proseLines(readFileSync(file, 'utf8'))) {
    for (const match of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const link = match[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:, ...
      const [path, anchor] = link.split('#');
      const target = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
      if (!existsSync(target)) broken.push(`${name}:${number}: ${link} (no such file)`);
      else if (anchor !== undefined && statSync(target).isFile() && target.endsWith('.md') && !anchors(target).has(anchor))
        broken.push(`${name}:${number}: ${link} (no heading "${anchor}" in ${relative(ROOT, target)})`);
    }
  }
}
if (broken.length > 0) {
  console.error(`Broken links in Markdown files:\n${broken.join('\n')}`);
  process.exit(1);
}
console.log(`docs-check: every relative link of ${files.length} Markdown files resolves`);
