/**
 * Runs the Okta emulator in its own process and prints one ready line (JSON) on stdout:
 *   tsx connectors/okta/emulator/main.ts --users 1000 --groups 100 --members-per-group 20 --seed 1
 * Extra flags: --auth apiToken|privateKey, --no-dpop, --rate-limit N (requests per minute for every
 * endpoint family; default Okta's Workforce limits), --concurrency-limit N.
 */
import { parseArgs } from 'node:util';
import { readyLine } from '../../emulator-kit/types.js';
import { startEmulator } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    users: { type: 'string', default: '1000' },
    groups: { type: 'string', default: '100' },
    'members-per-group': { type: 'string', default: '20' },
    'nesting-depth': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    latency: { type: 'string', default: '0' },
    'error-rate': { type: 'string', default: '0' },
    auth: { type: 'string', default: 'apiToken' },
    'no-dpop': { type: 'boolean', default: false },
    'rate-limit': { type: 'string' },
    'concurrency-limit': { type: 'string', default: '75' },
  },
});

const perMinute = values['rate-limit'] === undefined ? undefined : Number(values['rate-limit']);
const emu = await startEmulator({
  port: Number(values.port),
  host: values.host,
  users: Number(values.users),
  groups: Number(values.groups),
  membersPerGroup: Number(values['members-per-group']),
  nestingDepth: Number(values['nesting-depth']),
  seed: Number(values.seed),
  latencyMs: Number(values.latency),
  faults: { errorRate: Number(values['error-rate']) },
  auth: values.auth === 'privateKey' ? 'privateKey' : 'apiToken',
  requireDpop: !values['no-dpop'],
  concurrencyLimit: Number(values['concurrency-limit']),
  ...(perMinute === undefined
    ? {}
    : {
        rateLimits: {
          users: perMinute,
          groups: perMinute,
          group: perMinute,
          token: perMinute,
          other: perMinute,
        },
      }),
});
console.log(readyLine(emu));
const stop = () => void emu.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
