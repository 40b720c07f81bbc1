/** The emulator as its own process (what the bench and `dirsync emulate graph` run). */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { graphConnector } from '../../../connectors/graph/index.js';
import { parseConnectorConfig } from '../../../config/load.js';
import type { Connector } from '../../../connectors/types.js';
import { readAll } from './helpers.js';

describe('graph emulator main.ts', () => {
  it('prints one ready line with a complete connector entry that the connector can read', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'connectors/graph/emulator/main.ts',
        '--users',
        '25',
        '--groups',
        '3',
        '--seed',
        '4',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
        createInterface({ input: child.stdout }).once('line', resolve);
      });
      const ready = JSON.parse(line) as {
        kind: string;
        url: string;
        connector: Record<string, unknown>;
        env: Record<string, string>;
      };
      expect(ready.kind).toBe('graph');
      expect(ready.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(Object.keys(ready.env).sort()).toEqual([
        'DIRSYNC_GRAPH_CERTIFICATE',
        'DIRSYNC_GRAPH_CLIENT_SECRET',
      ]);
      for (const [k, v] of Object.entries(ready.env)) process.env[k] = v;
      const config = parseConnectorConfig(ready.connector, graphConnector as unknown as Connector);
      expect(config.name).toBe('graph-emulator');
      const got = await readAll(config as never);
      expect(got.users.size).toBeGreaterThan(20);
      expect(got.groups.size).toBe(3);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
