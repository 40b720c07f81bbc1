/**
 * Runs the Keycloak emulator as its own process and prints one ready line (JSON) on stdout:
 *
 *   tsx connectors/keycloak/emulator/main.ts --users 1000 --groups 100 --members-per-group 20 \
 *     --nesting-depth 3 --seed 1 [--port 0] [--latency 5] [--error-rate 0.01] [--max-in-flight 64]
 */
import { parseEmulatorArgs, runEmulatorMain } from '../../emulator-kit/main.js';
import { startEmulator } from './index.js';

const { options, values, num } = parseEmulatorArgs({
  extra: {
    'max-in-flight': { type: 'string', default: '0' },
    'token-lifetime': { type: 'string', default: '300' },
    realm: { type: 'string', default: 'acme' },
  },
  check: 'non-negative',
});
const maxInFlight = num('max-in-flight');
const tokenLifetimeSec = num('token-lifetime');

await runEmulatorMain(() =>
  startEmulator({ ...options, maxInFlight, tokenLifetimeSec, realm: values.realm as string }),
);
