/**
 * Configuration of the `keycloak` connector (the IdP-specific fields of a `connectors[]` entry).
 */
import { z } from 'zod';
import { durationSchema } from '../../config/schema.js';
import { secretRefSchema } from '../../config/secrets.js';

/** A confidential client with "Service accounts roles" enabled (the recommended setup). */
const clientCredentialsSchema = z
  .object({
    type: z.literal('clientCredentials'),
    /** The client's `clientId` (not its internal UUID). */
    clientId: z.string().min(1),
    /** The client secret (Credentials tab of the client), as `{ env }` or `{ file }`. */
    clientSecret: secretRefSchema,
  })
  .strict();

/** A user's password grant (Resource Owner Password Credentials), e.g. a master-realm admin. */
const passwordSchema = z
  .object({
    type: z.literal('password'),
    username: z.string().min(1),
    /** The user's password, as `{ env }` or `{ file }`. */
    password: secretRefSchema,
    /** The client the grant is made through; `admin-cli` exists in every realm and is public. */
    clientId: z.string().min(1).default('admin-cli'),
    /** Only when `clientId` names a confidential client. */
    clientSecret: secretRefSchema.optional(),
  })
  .strict();

const retrySchema = z
  .object({
    /** Attempts per request, the first included, for 429/5xx/timeouts/connection resets. */
    maxAttempts: z.number().int().min(1).max(100).default(6),
    /** First backoff delay; doubles per attempt, with full jitter. */
    baseDelay: durationSchema.default(500),
    /** Longest single backoff delay. */
    maxDelay: durationSchema.default(30_000),
  })
  .strict()
  .default({ maxAttempts: 6, baseDelay: 500, maxDelay: 30_000 });

export const keycloakConfigSchema = z.object({
  kind: z.literal('keycloak'),
  /**
   * Base URL of the Keycloak server, e.g. `https://sso.example.com`. Keycloak 16 and older (and
   * servers started with `--http-relative-path=/auth`) need the `/auth` suffix.
   */
  url: z.url({ protocol: /^https?$/ }),
  /** The realm whose users and groups are synced (its name, not its id). */
  realm: z.string().min(1),
  /**
   * Realm the credentials live in. Defaults to `realm` for client credentials and to `master` for
   * the password grant (the usual admin account).
   */
  authRealm: z.string().min(1).optional(),
  auth: z.discriminatedUnion('type', [clientCredentialsSchema, passwordSchema]),
  /**
   * Requests in flight at once. Keycloak has no rate limiting and degrades (503, slow queries)
   * under load, so keep this modest.
   */
  concurrency: z.number().int().min(1).max(32).default(4),
  /** `max` for users, group and member pages (Keycloak's own defaults are 100, and 10 for subgroups). */
  pageSize: z.number().int().min(1).max(5000).default(500),
  /** A request that sends no headers or body for this long is abandoned and retried. */
  requestTimeout: durationSchema.default(30_000),
  retry: retrySchema,
  /**
   * How far before the saved cursor the admin-event feed starts reading. It must cover the clock
   * difference between Dirsync and Keycloak and the time between an event's timestamp and its
   * commit; events read twice are harmless.
   */
  feedOverlap: durationSchema.default(120_000),
});

export type KeycloakConfig = z.infer<typeof keycloakConfigSchema>;
