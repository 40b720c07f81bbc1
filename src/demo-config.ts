/**
 * The demo's configuration, written where another shell can use it: `dirsync --config
 * .demo/dirsync.yaml status` (or `sync`, `changes`, …) then sees the demo's directories. The
 * emulators' fake credentials are written as secret files beside it (mode 0600) and referenced by
 * `{ file }`, so the config itself never holds a secret, exactly as in production.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

/** Where the demo writes its config, relative to the working directory. */
export const DEMO_CONFIG_DIR = '.demo';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Replaces every `{ env: NAME }` whose value is in `env` by `{ file }` of a secret file in `dir`. */
function envRefsToFiles(v: Json, env: Record<string, string>, dir: string): Json {
  if (Array.isArray(v)) return v.map((x) => envRefsToFiles(x, env, dir));
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    const name = v.env;
    if (keys.length === 1 && typeof name === 'string' && env[name] !== undefined) {
      const file = join(dir, 'secrets', name);
      writeFileSync(file, env[name] as string, { mode: 0o600 });
      chmodSync(file, 0o600);
      return { file };
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, envRefsToFiles(x, env, dir)]));
  }
  return v;
}

/**
 * Writes the demo's raw config (as given to the schema) and the secrets it references; returns the
 * config file's absolute path. File connector paths are made absolute so the config works from any
 * directory.
 */
export function writeDemoConfig(
  raw: Record<string, unknown>,
  env: Record<string, string>,
  dir = DEMO_CONFIG_DIR,
): string {
  const abs = resolve(dir);
  mkdirSync(join(abs, 'secrets'), { recursive: true, mode: 0o700 });
  const out = envRefsToFiles(structuredClone(raw) as Json, env, abs) as {
    connectors?: { kind?: string; path?: string }[];
  };
  for (const c of out.connectors ?? [])
    if (c.kind === 'file' && typeof c.path === 'string') c.path = resolve(c.path);
  const path = join(abs, 'dirsync.yaml');
  writeFileSync(
    path,
    `# Written by \`npm run demo\` for the CLI: dirsync --config ${path} status\n# The demo's emulators must be running for sync; status, changes and history work without them.\n${stringify(out)}`,
  );
  return path;
}
