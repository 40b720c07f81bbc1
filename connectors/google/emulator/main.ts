/**
 * Runs the Google emulator on its own and prints the ready line (one JSON object) on stdout:
 *   node --import tsx connectors/google/emulator/main.ts --users 1000 --groups 100 \
 *     --members-per-group 20 --nesting-depth 3 --seed 1 [--port 0] [--latency 0] [--error-rate 0] [--user-qpm 2400]
 * Stops on SIGINT/SIGTERM.
 */
import { parseEmulatorArgs, runEmulatorMain } from '../../emulator-kit/main.js';
import { startEmulator } from './index.js';

const { options, num } = parseEmulatorArgs({
  extra: { 'user-qpm': { type: 'string', default: '2400' } },
  check: 'non-negative',
});
const userQpm = num('user-qpm');
await runEmulatorMain(() => startEmulator({ ...options, userQpm }));
