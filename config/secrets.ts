import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DirsyncError } from '../src/errors.js';

/**
 * A secret is only ever referenced from the config, never written in it: `{ env: NAME }` reads an
 * environment variable, `{ file: PATH }` reads a file (trailing newline trimmed), as mounted by
 * Docker/Kubernetes secrets.
 */
export const secretRefSchema = z.union(
  [
    z
      .object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') })
      .strict(),
    z.object({ file: z.string().min(1) }).strict(),
  ],
  { error: 'must be a secret reference { env: NAME } or { file: PATH }; secrets are never written inline' },
);

export type SecretRef = z.infer<typeof secretRefSchema>;

/** Reads a secret at the moment it is needed. The error names the reference, never the value. */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') {
      throw new DirsyncError('DIRSYNC_E_SECRET_UNAVAILABLE', `environment variable ${ref.env} is not set`);
    }
    return v;
  }
  try {
    return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new DirsyncError('DIRSYNC_E_SECRET_UNAVAILABLE', `cannot read secret file ${ref.file}`, { cause });
  }
}

/** Describes a reference for logs and the dashboard without revealing the secret. */
export function describeSecret(ref: SecretRef): string {
  return 'env' in ref ? `env:${ref.env}` : `file:${ref.file}`;
}
