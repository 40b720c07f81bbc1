/**
 * Runs the Graph emulator as its own process and prints one ready line (JSON) on stdout:
 * `tsx connectors/graph/emulator/main.ts --users 1000 --groups 100 --members-per-group 20 ...`
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
    'throttle-limit': { type: 'string' },
    'throttle-window-ms': { type: 'string' },
  },
});

const num = (s: string | undefined, name: string): number => {
  const n = Number(s);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number`);
  return n;
};

const emu = await startEmulator({
  port: num(values.port, 'port'),
  host: values.host,
  users: num(values.users, 'users'),
  groups: num(values.groups, 'groups'),
  membersPerGroup: num(values['members-per-group'], 'members-per-group'),
  nestingDepth: num(values['nesting-depth'], 'nesting-depth'),
  seed: num(values.seed, 'seed'),
  latencyMs: num(values.latency, 'latency'),
  faults: { errorRate: num(values['error-rate'], 'error-rate') },
  throttle: {
    ...(values['throttle-limit'] !== undefined
      ? { limit: num(values['throttle-limit'], 'throttle-limit') }
      : {}),
    ...(values['throttle-window-ms'] !== undefined
      ? { windowMs: num(values['throttle-window-ms'], 'throttle-window-ms') }
      : {}),
  },
});
console.log(readyLine(emu));

const stop = () => {
  void emu.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
