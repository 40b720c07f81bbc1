/**
 * The official IdP specs live in `shared/idp-specs/`, beside the repository (in CI too, wherever
 * the clone is): resolve them from the repository root, never from an absolute path. A checkout
 * elsewhere (a git worktree) points `DIRSYNC_IDP_SPECS` at the specs folder.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Path of a spec file, e.g. `specPath('okta/management.yaml')`. */
export function specPath(relative: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DIRSYNC_IDP_SPECS;
  if (dir) return join(dir, relative);
  return fileURLToPath(new URL(`../shared/idp-specs/${relative}`, `file://${REPO_ROOT}`));
}
