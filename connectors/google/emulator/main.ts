/**
 * Runs the Google emulator on its own and prints the ready line (one JSON object) on stdout:
 *   node --import tsx connectors/google/emulator/main.ts --users 1000 --groups 100 \
 *     --members-per-group 20 --nesting-depth 3 --seed 1 [--port 0] [--latency 0] [--error-rate 0] [--user-qpm 2400]
 * Stops on SIGINT/SIGTERM.
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
    'user-qpm': { type: 'string', default: '2400' },
  },
});

const num = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a non-negative number`);
    process.exit(2);
  }
  return n;
};

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
  userQpm: num('user-qpm'),
  ...(errorRate > 0 ? { faults: { errorRate } } : {}),
});
console.log(readyLine(emu));

const stop = () => {
  emu.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
