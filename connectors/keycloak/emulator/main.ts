/**
 * Runs the Keycloak emulator as its own process and prints one ready line (JSON) on stdout:
 *
 *   tsx connectors/keycloak/emulator/main.ts --users 1000 --groups 100 --members-per-group 20 \
 *     --nesting-depth 3 --seed 1 [--port 0] [--latency 5] [--error-rate 0.01] [--max-in-flight 64]
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
    'nesting-depth': { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    latency: { type: 'string', default: '0' },
    'error-rate': { type: 'string', default: '0' },
    'max-in-flight': { type: 'string', default: '0' },
    'token-lifetime': { type: 'string', default: '300' },
    realm: { type: 'string', default: 'acme' },
  },
  strict: true,
});

function num(name: keyof typeof values): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a non-negative number`);
    process.exit(2);
  }
  return n;
}

const errorRate = num('error-rate');
const emu = await startEmulator({
  port: num('port'),
  host: values.host as string,
  users: num('users'),
  groups: num('groups'),
  membersPerGroup: num('members-per-group'),
  nestingDepth: num('nesting-depth'),
  seed: num('seed'),
  latencyMs: num('latency'),
  maxInFlight: num('max-in-flight'),
  tokenLifetimeSec: num('token-lifetime'),
  realm: values.realm as string,
  ...(errorRate > 0 ? { faults: { errorRate } } : {}),
});
console.log(readyLine(emu));

const stop = () => {
  void emu.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
