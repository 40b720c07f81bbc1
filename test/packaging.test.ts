/**
 * The README promises Node.js ≥ 20 (package.json `engines`). Every package the lock file installs
 * must run on that version, or `npm ci` warns (EBADENGINE) and the package may break at run time.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean }>;
};

describe('packaging', () => {
  it('installs no package that needs a newer Node.js than package.json promises', () => {
    const oldest = semver.minVersion(pkg.engines.node);
    expect(oldest?.version).toMatch(/^20\./);
    const tooNew = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !p.optional)
      .flatMap(([path, p]) => {
        const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
        return range && !semver.satisfies(oldest as semver.SemVer, range)
          ? [`${path} needs node ${range}`]
          : [];
      });
    expect(tooNew).toEqual([]);
  });

  it('the README states the same minimum Node.js version as package.json', () => {
    const readme = readFileSync('README.md', 'utf8');
    const major = semver.minVersion(pkg.engines.node)?.major;
    expect(readme).toContain(`Node.js ≥ ${major}`);
  });
});
