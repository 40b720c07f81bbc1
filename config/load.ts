import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { CONNECTORS } from '../connectors/registry.js';
import type { Connector } from '../connectors/types.js';
import { DirsyncError } from '../src/errors.js';
import {
  configSchema,
  connectorEntrySchema,
  formatPath,
  type ConnectorConfig,
  type DirsyncConfig,
} from './schema.js';

/** Where the config file is looked for when `DIRSYNC_CONFIG` is not set. */
export const DEFAULT_CONFIG_PATH = 'config/dirsync.yaml';

/** Lists every problem, one per line, as `path: reason`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    // A union failure hides its real reasons in branches; for a discriminated union zod already
    // picked the branch, so report the branch's own issues with the full path.
    if (
      issue.code === 'invalid_union' &&
      'errors' in issue &&
      issue.errors.length > 0 &&
      !issue.message.includes('secret')
    ) {
      // Prefer a branch the value's type matched (`localGroups: [{ nam: x }]` is a wrong object,
      // not "expected string"; `-5d` is a bad duration, not "expected never").
      const typeMismatch = (errs: readonly z.core.$ZodIssue[]) =>
        errs.length === 1 &&
        errs[0]?.path.length === 0 &&
        (errs[0].code === 'invalid_type' || errs[0].code === 'invalid_value');
      const matched = issue.errors.filter((errs) => !typeMismatch(errs));
      const candidates = matched.length > 0 ? matched : issue.errors;
      const best = candidates.reduce((a, b) => (a.length <= b.length ? a : b));
      for (const sub of best) {
        lines.push(...formatIssues([{ ...sub, path: [...issue.path, ...sub.path] } as z.core.$ZodIssue]));
      }
      continue;
    }
    lines.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  return [...new Set(lines)];
}

/** Validates an already-parsed object. Throws DIRSYNC_E_CONFIG_INVALID with every problem listed. */
export function parseConfig(
  raw: unknown,
  connectors: readonly Connector[] = CONNECTORS,
  source = 'config',
): DirsyncConfig {
  const result = configSchema(connectors).safeParse(raw ?? {});
  if (!result.success) {
    const lines = formatIssues(result.error.issues);
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      `${source} has ${lines.length} problem(s):\n  ${lines.join('\n  ')}`,
      {
        cause: result.error,
      },
    );
  }
  return result.data as unknown as DirsyncConfig;
}

/** Validates one `connectors[]` entry against a given connector (used by tests and emulators). */
export function parseConnectorConfig(raw: unknown, connector: Connector): ConnectorConfig {
  const result = connectorEntrySchema(connector).safeParse(raw);
  if (!result.success) {
    const lines = formatIssues(result.error.issues);
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      `connector entry has ${lines.length} problem(s):\n  ${lines.join('\n  ')}`,
    );
  }
  return result.data as unknown as ConnectorConfig;
}

/** The config file's path: `DIRSYNC_CONFIG` or the default. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.DIRSYNC_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** Reads and validates the config file named by `DIRSYNC_CONFIG` (or the default path). */
export function loadConfig(path = configPath()): DirsyncConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    // Only a missing file is "not found"; anything else names what is wrong with the path.
    if (code === 'EISDIR') {
      throw new DirsyncError('DIRSYNC_E_CONFIG_INVALID', `${path} is a directory, not a config file`, {
        cause,
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new DirsyncError('DIRSYNC_E_CONFIG_INVALID', `${path} cannot be read: permission denied`, {
        cause,
      });
    }
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_NOT_FOUND',
      `${path} (pass --config FILE or set DIRSYNC_CONFIG, or copy config/dirsync.example.yaml; while \`npm run demo\` runs, its config is .demo/dirsync.yaml)`,
      { cause },
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (cause) {
    const detail = cause instanceof YAMLParseError ? cause.message : String(cause);
    throw new DirsyncError('DIRSYNC_E_CONFIG_INVALID', `${path} is not valid YAML: ${detail}`, { cause });
  }
  return parseConfig(raw, CONNECTORS, path);
}

export function findConnector(config: DirsyncConfig, name: string): ConnectorConfig {
  const c = config.connectors.find((x) => x.name === name);
  if (!c) {
    throw new DirsyncError(
      'DIRSYNC_E_CONNECTOR_UNKNOWN',
      `"${name}" (configured: ${config.connectors.map((x) => x.name).join(', ') || 'none'})`,
    );
  }
  return c;
}
