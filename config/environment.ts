/**
 * What a config refers to outside itself: the environment variables and secret files of its
 * secret references (`{ env: NAME }`, `{ file: PATH }`). The schema cannot see them, so a typo in a
 * variable name used to pass `check-config` and fail only at the first run. These checks say which
 * reference is missing without ever reading a secret's value into a message.
 */
import { accessSync, constants, statSync } from 'node:fs';
import type { ConnectorConfig, DirsyncConfig } from './schema.js';
import { formatPath } from './schema.js';

/** One unusable reference: where it is in the config and why it cannot be used. */
export interface EnvironmentProblem {
  connector: string;
  /** Config path, e.g. `connectors[2].token`. */
  path: string;
  reason: string;
}

/** A parsed secret reference: an object with exactly one string field, `env` or `file`. */
function secretRef(v: unknown): { env: string } | { file: string } | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const keys = Object.keys(v);
  if (keys.length !== 1) return null;
  const [k] = keys;
  const value = (v as Record<string, unknown>)[k as string];
  if (typeof value !== 'string') return null;
  if (k === 'env') return { env: value };
  if (k === 'file') return { file: value };
  return null;
}

function refProblem(ref: { env: string } | { file: string }, env: NodeJS.ProcessEnv): string | null {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined) return `environment variable ${ref.env} is not set`;
    if (v === '') return `environment variable ${ref.env} is empty`;
    return null;
  }
  let st;
  try {
    st = statSync(ref.file);
  } catch {
    return `secret file ${ref.file} does not exist`;
  }
  if (st.isDirectory()) return `secret file ${ref.file} is a directory, not a file`;
  try {
    accessSync(ref.file, constants.R_OK);
  } catch {
    return `secret file ${ref.file} is not readable by this process`;
  }
  return null;
}

/** Problems of one connector entry (`index` is its position in `connectors`). */
export function connectorEnvironmentProblems(
  cfg: ConnectorConfig,
  index: number,
  env: NodeJS.ProcessEnv = process.env,
): EnvironmentProblem[] {
  const out: EnvironmentProblem[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    const ref = secretRef(v);
    if (ref) {
      const reason = refProblem(ref, env);
      if (reason) out.push({ connector: cfg.name, path: formatPath(path), reason });
      return;
    }
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(cfg, ['connectors', index]);
  return out;
}

/** Every unusable reference of the config, in config order. */
export function environmentProblems(
  config: Pick<DirsyncConfig, 'connectors'>,
  env: NodeJS.ProcessEnv = process.env,
): EnvironmentProblem[] {
  return config.connectors.flatMap((c, i) => connectorEnvironmentProblems(c, i, env));
}
