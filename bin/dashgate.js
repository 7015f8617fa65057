#!/usr/bin/env node
// Runs the compiled gateway from dist/ (built by `npm ci` through "prepare"). When a file in
// src/ is newer than the build (a developer's edit), runs the TypeScript sources through tsx
// instead, so a change is never hidden behind a stale build.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let built = 0;
try {
  built = statSync(join(root, 'dist', '.built')).mtimeMs;
} catch {
  // No build: run from source.
}

if (built > 0 && built >= newestMtime(join(root, 'src'))) {
  await import(pathToFileURL(join(root, 'dist', 'main.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'main.ts')).href);
}
