/**
 * Configuration of the `google` connector (Google Workspace through the Admin SDK Directory API).
 */
import { z } from 'zod';
import { durationSchema } from '../../config/schema.js';
import { secretRefSchema } from '../../config/secrets.js';

/** Where Google's OAuth token endpoint lives; `gtoken` hard-codes it (and signs it as `aud`). */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const GOOGLE_ROOT_URL = 'https://admin.googleapis.com/';

/**
 * Read-only scopes, the least the sync needs. `group.readonly` covers groups.list, groups.get and
 * members.list. Both must be listed in the domain-wide delegation entry of the service account.
 * https://developers.google.com/workspace/admin/directory/v1/guides/authorizing
 */
export const DIRECTORY_SCOPES = [
  'https://www.googleapis.com/auth/admin.directory.user.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.readonly',
] as const;

/**
 * The change feed also reads the Admin console audit log (Reports API activities.list), which
 * needs this scope in the domain-wide delegation entry too.
 * https://developers.google.com/workspace/admin/reports/v1/guides/authorizing
 */
export const REPORTS_SCOPE = 'https://www.googleapis.com/auth/admin.reports.audit.readonly';

export const googleConfigSchema = z.object({
  kind: z.literal('google'),
  /**
   * The service account's JSON key file (as downloaded from the Cloud console), as a secret
   * reference: `{ env: NAME }` holding the JSON text, or `{ file: PATH }` naming the key file.
   */
  serviceAccountKey: secretRefSchema,
  /**
   * The administrator the service account acts as (domain-wide delegation `sub`). Must be an admin
   * with at least the Users and Groups read privileges.
   */
  subject: z.email(),
  /**
   * The Workspace customer id to read (`C0xxxxxxx`), or `my_customer` for the subject's own
   * account. Ignored when `domain` is set.
   */
  customer: z.string().min(1).default('my_customer'),
  /** Read only users and groups of this domain instead of the whole customer account. */
  domain: z.string().min(1).optional(),
  /** API root, e.g. an emulator's `http://127.0.0.1:PORT/`. Defaults to `https://admin.googleapis.com/`. */
  rootUrl: z.url().optional(),
  /**
   * OAuth token endpoint. Defaults to `token_uri` from the key file, then Google's. The JWT client
   * ignores `token_uri`, so the connector redirects its token request (see README).
   */
  tokenUrl: z.url().optional(),
  /** Page sizes; the API's maxima are the defaults (users ≤ 500, groups ≤ 200, members ≤ 200). */
  pageSize: z
    .object({
      users: z.number().int().min(1).max(500).default(500),
      groups: z.number().int().min(1).max(200).default(200),
      members: z.number().int().min(1).max(200).default(200),
    })
    .strict()
    .default({ users: 500, groups: 200, members: 200 }),
  /** Member lists fetched at once. Membership listing dominates a sync's wall time. */
  memberConcurrency: z.number().int().min(1).max(64).default(8),
  /**
   * Client-side request budget per minute, shared by every request of a run. Google's default
   * quota is 2,400 queries per minute per user per project; 0 turns the budget off.
   * https://developers.google.com/workspace/admin/directory/v1/limits
   */
  requestsPerMinute: z.number().int().min(0).default(2400),
  /** Retries of one request after throttling, 5xx, timeouts or resets (exponential backoff with jitter). */
  maxRetries: z.number().int().min(0).max(20).default(8),
  /** Longest wait before a retry (and the cap on a server-requested Retry-After). */
  maxBackoff: durationSchema.default(60_000),
  /** A request taking longer than this is abandoned and retried. */
  requestTimeout: durationSchema.default(60_000),
  /**
   * How far back before its cursor each change feed re-reads the audit log, to catch events the
   * Reports API made visible late (its ingestion lag). Re-reading is idempotent; a longer overlap
   * costs re-reading those events and the users they name. See README ("Change feed").
   */
  feedOverlap: durationSchema.default(30 * 60_000),
});

export type GoogleConfig = z.infer<typeof googleConfigSchema>;
