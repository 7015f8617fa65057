// Compiles src/ to dist/ and copies the files the code reads at run time (SQL migrations,
// the stylesheet and the page helper). Run by `npm ci` / `npm install` through "prepare".
import { execFileSync } from 'node:child_process';
import process from 'node:process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const dir of ['store/migrations', 'web/static']) cpSync(join(root, 'src', dir), join(root, 'dist', dir), { recursive: true });
writeFileSync(join(root, 'dist', '.built'), new Date().toISOString());
