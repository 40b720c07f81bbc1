/**
 * Runs the Okta emulator in its own process and prints one ready line (JSON) on stdout:
 *   tsx connectors/okta/emulator/main.ts --users 1000 --groups 100 --members-per-group 20 --seed 1
 * Extra flags: --auth apiToken|privateKey, --no-dpop, --rate-limit N (requests per minute for every
 * endpoint family; default Okta's Workforce limits), --concurrency-limit N, --log-delay MS (System Log
 * ingestion delay).
 */
import { parseEmulatorArgs, runEmulatorMain } from '../../emulator-kit/main.js';
import { startEmulator } from './index.js';

const { options, values, num } = parseEmulatorArgs({
  extra: {
    auth: { type: 'string', default: 'apiToken' },
    'no-dpop': { type: 'boolean', default: false },
    'rate-limit': { type: 'string' },
    'concurrency-limit': { type: 'string', default: '75' },
    'log-delay': { type: 'string', default: '0' },
  },
  nestingDepth: '0',
  check: 'none',
});

const perMinute = values['rate-limit'] === undefined ? undefined : num('rate-limit');
await runEmulatorMain(() =>
  startEmulator({
    ...options,
    auth: values.auth === 'privateKey' ? 'privateKey' : 'apiToken',
    requireDpop: !values['no-dpop'],
    concurrencyLimit: num('concurrency-limit'),
    logDelayMs: num('log-delay'),
    ...(perMinute === undefined
      ? {}
      : {
          rateLimits: {
            users: perMinute,
            user: perMinute,
            groups: perMinute,
            logs: perMinute,
            group: perMinute,
            token: perMinute,
            other: perMinute,
          },
        }),
  }),
);
