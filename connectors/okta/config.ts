/**
 * Configuration of the `okta` connector: the IdP-specific fields of a `connectors[]` entry.
 */
import { z } from 'zod';
import { secretRefSchema } from '../../config/secrets.js';

/**
 * Every Okta user status. `DEPROVISIONED` users are hidden by a plain list-users call and are only
 * returned when a `filter` or `search` is used.
 * See https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/#tag/User/operation/listUsers
 */
export const USER_STATUSES = [
  'STAGED',
  'PROVISIONED',
  'ACTIVE',
  'RECOVERY',
  'PASSWORD_EXPIRED',
  'LOCKED_OUT',
  'SUSPENDED',
  'DEPROVISIONED',
] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** Statuses that Dirsync reports as `active: false` (the account cannot sign in and is not on its way to). */
export const INACTIVE_STATUSES: ReadonlySet<string> = new Set(['SUSPENDED', 'DEPROVISIONED']);

/** Okta group types: Okta-mastered, imported from an app (AD, Workday...), and the built-in `Everyone`. */
export const GROUP_TYPES = ['OKTA_GROUP', 'APP_GROUP', 'BUILT_IN'] as const;
export type GroupType = (typeof GROUP_TYPES)[number];

const apiTokenAuthSchema = z
  .object({
    type: z.literal('apiToken'),
    /** An SSWS API token (Admin Console > Security > API > Tokens); sent as `Authorization: SSWS ...`. */
    token: secretRefSchema,
  })
  .strict();

const privateKeyAuthSchema = z
  .object({
    type: z.literal('privateKey'),
    /** Client id of the API Services app integration. */
    clientId: z.string().min(1),
    /** The app's private key, as PEM (PKCS#1/PKCS#8) or as a private JWK (JSON). RSA or EC P-256. */
    privateKey: secretRefSchema,
    /** `kid` of the key registered on the app; defaults to the JWK's own `kid`. */
    keyId: z.string().min(1).optional(),
    /** OAuth scopes to request; they must be granted to the app. */
    scopes: z.array(z.string().min(1)).min(1).default(['okta.users.read', 'okta.groups.read']),
  })
  .strict();

export const oktaConfigSchema = z.object({
  kind: z.literal('okta'),
  /** The org URL, e.g. `https://acme.okta.com` (no `-admin`, no path). */
  orgUrl: z.url({ protocol: /^https?$/ }),
  /** API token (SSWS) or OAuth 2.0 service app with a private key (private_key_jwt, DPoP when the app requires it). */
  auth: z.discriminatedUnion('type', [apiTokenAuthSchema, privateKeyAuthSchema]),
  /**
   * User statuses to sync. Users in other statuses are left out of the snapshot (and so deactivated in
   * the directory). The default is every status, DEPROVISIONED included (synced as inactive users).
   */
  userStatuses: z
    .array(z.enum(USER_STATUSES))
    .min(1)
    .default([...USER_STATUSES]),
  /** Group types to sync. `BUILT_IN` is the `Everyone` group, which holds every user. */
  groupTypes: z.array(z.enum(GROUP_TYPES)).min(1).default(['OKTA_GROUP', 'APP_GROUP']),
  /**
   * Push configured group name/id includes down to Okta as a `search` expression. Okta's `search`
   * is served from an eventually consistent index, so a group renamed seconds ago can be missed
   * for one run; turn this off to list all groups (with a consistent `filter` on type) instead.
   */
  groupNamePushDown: z.boolean().default(true),
  /** Page sizes (Okta caps: users 200, groups 10,000 (200 recommended), group members 1,000). */
  pageSize: z
    .object({
      users: z.number().int().min(1).max(200).default(200),
      groups: z.number().int().min(1).max(10_000).default(200),
      members: z.number().int().min(1).max(1000).default(1000),
    })
    .strict()
    .default({ users: 200, groups: 200, members: 1000 }),
  /**
   * Upper bound on group member lists read at once. Default: `rateLimit.maxConcurrent`; the rate
   * budget then decides how many actually run, from the `X-Rate-Limit-*` headers Okta sends.
   */
  memberConcurrency: z.number().int().min(1).max(75).optional(),
  rateLimit: z
    .object({
      /**
       * Requests in flight at once against the org, all endpoints. Okta's org-wide concurrency
       * limit is 75 on most plans (35 on Integrator Free) and shared with every integration; the
       * default leaves a third of the lowest one to others. Lowered at run time when Okta answers
       * a 429 that reports a smaller concurrency limit.
       */
      maxConcurrent: z.number().int().min(1).max(75).default(24),
      /**
       * Share of each rate-limit window left for the org's other integrations: the connector waits
       * for the window to reset once `X-Rate-Limit-Remaining` falls to this share of the limit.
       */
      reservePercent: z.number().min(0).max(90).default(20),
    })
    .strict()
    .default({ maxConcurrent: 24, reservePercent: 20 }),
  retry: z
    .object({
      /** Retries of one request after 429, 5xx, timeouts, resets and truncated bodies. */
      maxRetries: z.number().int().min(0).max(20).default(6),
      /** First backoff delay for 5xx/network errors; doubles per attempt, with full jitter. */
      baseDelayMs: z.number().int().min(1).default(500),
      /** Longest single wait, including waits for a rate-limit window to reset. */
      maxDelayMs: z.number().int().min(1).default(90_000),
    })
    .strict()
    .default({ maxRetries: 6, baseDelayMs: 500, maxDelayMs: 90_000 }),
  /** The change feed (incremental runs). See README.md, "Change feed". */
  feed: z
    .object({
      /**
       * Seconds re-read before the previous run's start: covers clock skew, Okta's System Log
       * ingestion delay and its eventually consistent search index. Re-reading is idempotent.
       */
      overlapSeconds: z.number().int().min(0).max(86_400).default(300),
      /** System Log events per page (Okta: at most 1,000). */
      logPageSize: z.number().int().min(1).max(1000).default(1000),
    })
    .strict()
    .default({ overlapSeconds: 300, logPageSize: 1000 }),
  /** Per-request timeout in milliseconds. */
  requestTimeoutMs: z.number().int().min(100).default(30_000),
});

export type OktaConfig = z.infer<typeof oktaConfigSchema>;
