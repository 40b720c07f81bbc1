/**
 * The one registry of Dirsync error codes. Every error the product raises on purpose is a
 * {@link DirsyncError} with one of these codes, so logs, the runs table, the CLI and the API can
 * say what went wrong and whether trying again can help.
 */
export const ERROR_CODES = {
  DIRSYNC_E_CONFIG_INVALID: { retryable: false, message: 'The configuration is invalid' },
  DIRSYNC_E_CONFIG_NOT_FOUND: { retryable: false, message: 'The configuration file was not found' },
  DIRSYNC_E_SECRET_UNAVAILABLE: { retryable: false, message: 'A secret could not be read' },
  DIRSYNC_E_CONNECTOR_UNKNOWN: { retryable: false, message: 'No connector of that name is configured' },
  DIRSYNC_E_DB_UNAVAILABLE: { retryable: true, message: 'The database cannot be reached' },
  DIRSYNC_E_REDIS_UNAVAILABLE: { retryable: true, message: 'Redis cannot be reached' },
  DIRSYNC_E_MIGRATION_FAILED: { retryable: false, message: 'A database migration failed' },
  DIRSYNC_E_RUN_IN_PROGRESS: { retryable: true, message: 'Another run of this connector is in progress' },
  DIRSYNC_E_RUN_NOT_FOUND: { retryable: false, message: 'No such run' },
  DIRSYNC_E_OBJECT_NOT_FOUND: { retryable: false, message: 'No such user or group' },
  DIRSYNC_E_RUN_NOT_HELD: { retryable: false, message: 'The run is not waiting for approval' },
  DIRSYNC_E_DIRECTORY_MOVED: {
    retryable: false,
    message: 'The directory changed since the run was computed; run the sync again',
  },
  DIRSYNC_E_STAGE_LOST: { retryable: false, message: "The held run's staged changes are gone" },
  DIRSYNC_E_DELETE_THRESHOLD: {
    retryable: false,
    message: 'The run would remove more than the configured thresholds and waits for approval',
  },
  DIRSYNC_E_RUN_TIMEOUT: { retryable: true, message: 'The run exceeded its maximum duration' },
  DIRSYNC_E_RUN_CANCELLED: { retryable: false, message: 'The run was cancelled' },
  DIRSYNC_E_SOURCE_FAILED: { retryable: true, message: 'Reading the snapshot failed' },
  DIRSYNC_E_SNAPSHOT_INVALID: { retryable: false, message: 'The snapshot cannot be read' },
  DIRSYNC_E_IDP_AUTH: { retryable: false, message: 'The identity provider refused the credentials' },
  DIRSYNC_E_IDP_FORBIDDEN: {
    retryable: false,
    message: 'The identity provider denied access (missing permission or scope)',
  },
  DIRSYNC_E_IDP_NOT_FOUND: { retryable: false, message: 'The identity provider has no such resource' },
  DIRSYNC_E_IDP_THROTTLED: { retryable: true, message: 'The identity provider throttled the requests' },
  DIRSYNC_E_IDP_UNAVAILABLE: { retryable: true, message: 'The identity provider is unavailable' },
  DIRSYNC_E_IDP_BAD_RESPONSE: {
    retryable: true,
    message: 'The identity provider answered with something unexpected',
  },
  DIRSYNC_E_CURSOR_EXPIRED: {
    retryable: false,
    message: 'The identity provider no longer serves changes since the saved cursor; a full read is needed',
  },
  DIRSYNC_E_FEED_UNAVAILABLE: {
    retryable: false,
    message: 'The identity provider does not offer a change feed for this connector; full reads are used',
  },
  DIRSYNC_E_APPLY_FAILED: { retryable: true, message: 'Applying the changes failed; nothing was written' },
  DIRSYNC_E_INTERNAL: { retryable: false, message: 'Internal error' },
} as const satisfies Record<string, { retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface DirsyncErrorOptions {
  cause?: unknown;
  /** HTTP status from an IdP, when there was one. */
  status?: number;
  /** The IdP's own error code (Okta `E0000047`, Google `userRateLimitExceeded`, Graph `Request_ResourceNotFound`). */
  vendorCode?: string;
  /** Milliseconds the IdP asked us to wait (Retry-After, X-Rate-Limit-Reset). */
  retryAfterMs?: number;
  /** Overrides the registry's retryable flag for this instance. */
  retryable?: boolean;
}

export class DirsyncError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status?: number;
  readonly vendorCode?: string;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, detail?: string, options: DirsyncErrorOptions = {}) {
    const base = ERROR_CODES[code].message;
    super(detail ? `${base}: ${detail}` : base, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'DirsyncError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    if (options.status !== undefined) this.status = options.status;
    if (options.vendorCode !== undefined) this.vendorCode = options.vendorCode;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export function isDirsyncError(e: unknown, code?: ErrorCode): e is DirsyncError {
  return e instanceof DirsyncError && (code === undefined || e.code === code);
}

/** Turns anything thrown into a DirsyncError, keeping the original as `cause`. */
export function toDirsyncError(e: unknown, fallback: ErrorCode = 'DIRSYNC_E_INTERNAL'): DirsyncError {
  if (e instanceof DirsyncError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new DirsyncError(fallback, message, { cause: e });
}
