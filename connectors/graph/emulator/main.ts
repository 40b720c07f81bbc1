/**
 * Runs the Graph emulator as its own process and prints one ready line (JSON) on stdout:
 * `tsx connectors/graph/emulator/main.ts --users 1000 --groups 100 --members-per-group 20 ...`
 */
import { parseEmulatorArgs, runEmulatorMain } from '../../emulator-kit/main.js';
import { startEmulator } from './index.js';

const { options, values, num } = parseEmulatorArgs({
  extra: {
    'throttle-limit': { type: 'string' },
    'throttle-window-ms': { type: 'string' },
  },
  check: 'finite',
});

await runEmulatorMain(() =>
  startEmulator({
    ...options,
    throttle: {
      ...(values['throttle-limit'] !== undefined ? { limit: num('throttle-limit') } : {}),
      ...(values['throttle-window-ms'] !== undefined ? { windowMs: num('throttle-window-ms') } : {}),
    },
  }),
);
