/**
 * The official IdP specs live in `shared/idp-specs/`, beside the repository (in CI too, wherever
 * the clone is): resolve them from the repository root, never from an absolute path.
 */
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Path of a spec file, e.g. `specPath('okta/management.yaml')`. */
export function specPath(relative: string): string {
  return fileURLToPath(new URL(`../shared/idp-specs/${relative}`, `file://${REPO_ROOT}`));
}
