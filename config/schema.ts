/**
 * The one configuration schema. A config file is parsed once at start; every problem is reported
 * with its path, and nothing starts while any remains.
 */
import cronParser from 'cron-parser';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Connector, GroupSelector } from '../connectors/types.js';
import { templateError } from '../src/pipeline/template.js';
import { parseDuration } from '../src/util/duration.js';
import { secretRefSchema, type SecretRef } from './secrets.js';

/** A duration such as `90s`, `15m`, `1h`, `30d`; parsed to milliseconds. */
export const durationSchema = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration (use e.g. 90s, 15m, 1h, 30d)` });
    return z.NEVER;
  }
  return ms;
});

/** Group selector: a plain string is an exact name, or a glob when it contains `*` or `?`. */
const groupSelectorSchema = z
  .union([
    z.string().min(1),
    z.object({ name: z.string().min(1) }).strict(),
    z.object({ glob: z.string().min(1) }).strict(),
    z.object({ id: z.string().min(1) }).strict(),
  ])
  .transform((s): GroupSelector => {
    if (typeof s !== 'string') return s;
    return /[*?]/.test(s) ? { glob: s } : { name: s };
  });

const userPredicateSchema = z
  .object({
    /** `username`, `email`, `displayName`, `givenName`, `familyName`, or `attributes.<path>`. */
    field: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    in: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** A regular expression (JavaScript syntax), matched against the value as text. */
    matches: z.string().optional(),
    exists: z.boolean().optional(),
    /** Inverts the predicate. */
    not: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    const ops = ['equals', 'in', 'matches', 'exists'].filter((k) => p[k as keyof typeof p] !== undefined);
    if (ops.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of equals, in, matches, exists' });
    }
    if (p.matches !== undefined) {
      try {
        new RegExp(p.matches, 'u');
      } catch (e) {
        ctx.addIssue({
          code: 'custom',
          path: ['matches'],
          message: `invalid regular expression: ${(e as Error).message}`,
        });
      }
    }
  });

export type UserPredicate = z.infer<typeof userPredicateSchema>;

const filtersSchema = z
  .object({
    groups: z
      .object({
        /** Sync only these groups (and their subgroups); users must be a (transitive) member of one. */
        include: z.array(groupSelectorSchema).default([]),
        /** Never sync these groups (nor their subgroups' membership through them). */
        exclude: z.array(groupSelectorSchema).default([]),
      })
      .strict()
      .default({ include: [], exclude: [] }),
    users: z
      .object({
        /**
         * Skip users the IdP marks inactive: disabled, suspended, and users who cannot sign in yet
         * (Okta STAGED and PROVISIONED). They are then treated as absent. Users whose state the IdP
         * does not say are kept (see `activeUnknown`).
         */
        activeOnly: z.boolean().default(false),
        /**
         * A new user whose active state the IdP does not say (Graph `accountEnabled: null`, a
         * Keycloak user without `enabled`, a Google user without `suspended`): `hold` (default: not
         * created until the IdP says, reported), `active` or `inactive` (created so). An existing
         * user always keeps its current state, and the run reports it.
         */
        activeUnknown: z.enum(['hold', 'active', 'inactive']).default('hold'),
        /** Every predicate must hold for a user to be synced. */
        where: z.array(userPredicateSchema).default([]),
      })
      .strict()
      .default({ activeOnly: false, activeUnknown: 'hold', where: [] }),
  })
  .strict()
  .default({
    groups: { include: [], exclude: [] },
    users: { activeOnly: false, activeUnknown: 'hold', where: [] },
  });

/**
 * Declarative transforms: templates such as `{{ email | strip_domain | lower }}`, with `||` for
 * fallbacks. Compiled once per run; no user code is evaluated.
 */
const transformSchema = z
  .object({
    username: z.string().optional(),
    email: z.string().optional(),
    displayName: z.string().optional(),
    givenName: z.string().optional(),
    familyName: z.string().optional(),
    /** Attributes to set (template per key); `null` removes the attribute. */
    attributes: z.record(z.string(), z.string().nullable()).default({}),
    /** Keep only these attribute keys (after mapping); omit to keep all. */
    keepAttributes: z.array(z.string()).optional(),
    groupName: z.string().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    // Templates are compiled here too, so a typo fails at start with its path, not mid-run.
    const check = (path: (string | number)[], tpl: string | null | undefined) => {
      const err = tpl ? templateError(tpl) : null;
      if (err) ctx.addIssue({ code: 'custom', path, message: err });
    };
    for (const k of ['username', 'email', 'displayName', 'givenName', 'familyName', 'groupName'] as const)
      check([k], t[k]);
    for (const [k, tpl] of Object.entries(t.attributes)) check(['attributes', k], tpl);
  })
  .default({ attributes: {} });

const localGroupSchema = z.union([
  z
    .string()
    .min(1)
    .transform((name) => ({ name, description: null as string | null })),
  z.object({ name: z.string().min(1), description: z.string().nullable().default(null) }).strict(),
]);

const deletionSchema = z
  .object({
    /**
     * How long a user missing from the IdP stays deactivated before it is deleted. `0s` deletes at
     * once; `never` keeps deactivated users forever.
     */
    deleteAfter: z.union([z.literal('never'), durationSchema]).default(30 * 86_400_000),
  })
  .strict()
  .default({ deleteAfter: 30 * 86_400_000 });

const limitSchema = (maxCount: number, maxPercent: number) =>
  z
    .object({
      /** Most removals allowed in one run. */
      maxCount: z.number().int().min(0).default(maxCount),
      /**
       * Most removals allowed, as a percentage of what the directory holds now. For users: of its
       * active users plus the inactive ones the run removes (disabled accounts do not dilute it).
       */
      maxPercent: z.number().min(0).max(100).default(maxPercent),
    })
    .strict()
    .default({ maxCount, maxPercent });

const groupMembersLimitSchema = z
  .object({
    /** Groups with fewer direct members than this are not checked on their own. */
    minMembers: z.number().int().min(1).default(20),
    /** Most of a group's direct members one run may remove, as a percentage of its members now. */
    maxPercent: z.number().min(0).max(100).default(25),
  })
  .strict()
  .default({ minMembers: 20, maxPercent: 25 });

/**
 * The deletion guard (see src/pipeline/guard.ts). A user removal is a deactivation (missing from
 * the snapshot, or active → inactive for any reason) or a deletion; a group removal a deletion; a
 * membership removal a removed direct edge.
 */
const guardSchema = z
  .object({
    users: limitSchema(500, 10),
    groups: limitSchema(100, 10),
    memberships: limitSchema(5000, 10),
    /**
     * Percentage limits apply from this many removals of a kind on: a run removing fewer is never
     * held by a percentage (the count limit still applies). 10 of 32 users is held with the
     * defaults; 9 of 32 is not.
     */
    minRemovals: z.number().int().min(0).default(10),
    /** Per group: a group of at least `minMembers` direct members losing more than `maxPercent` of them. */
    groupMembers: groupMembersLimitSchema,
  })
  .strict()
  .default({
    users: { maxCount: 500, maxPercent: 10 },
    groups: { maxCount: 100, maxPercent: 10 },
    memberships: { maxCount: 5000, maxPercent: 10 },
    minRemovals: 10,
    groupMembers: { minMembers: 20, maxPercent: 25 },
  });

/** A duration that must be longer than zero (an interval of 0 would fire without pause). */
const positiveDurationSchema = durationSchema.refine((ms) => ms > 0, {
  message: 'must be longer than 0 (e.g. 15m)',
});

/** An IANA time zone the runtime knows (`Europe/Berlin`); a typo would fail at the first schedule. */
export function timeZoneError(tz: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return null;
  } catch {
    return `"${tz}" is not a known IANA time zone (e.g. Europe/Berlin, UTC)`;
  }
}

/**
 * Why a cron pattern cannot be scheduled, or null. Parsed by the library BullMQ itself schedules
 * with (cron-parser), so what passes here is exactly what the worker can register.
 */
export function cronError(pattern: string, tz?: string): string | null {
  try {
    cronParser.parseExpression(pattern, tz ? { tz } : {});
    return null;
  } catch (e) {
    return `"${pattern}" is not a valid cron pattern: ${(e as Error).message}`;
  }
}

const scheduleSchema = z
  .union([
    z
      .object({ every: positiveDurationSchema, jitter: durationSchema.optional() })
      .strict()
      .superRefine((s, ctx) => {
        if (s.jitter !== undefined && s.jitter > s.every) {
          ctx.addIssue({
            code: 'custom',
            path: ['jitter'],
            message: `must not be longer than the interval (every: ${s.every} ms); the offset is taken modulo the interval`,
          });
        }
      }),
    z
      .object({ cron: z.string().min(1), tz: z.string().optional(), jitter: durationSchema.optional() })
      .strict()
      .superRefine((s, ctx) => {
        const tzErr = s.tz === undefined ? null : timeZoneError(s.tz);
        if (tzErr) ctx.addIssue({ code: 'custom', path: ['tz'], message: tzErr });
        const err = cronError(s.cron, tzErr ? undefined : s.tz);
        if (err) ctx.addIssue({ code: 'custom', path: ['cron'], message: err });
      }),
    z.object({ manual: z.literal(true) }).strict(),
  ])
  .default({ every: 3_600_000 });

/**
 * When a connector that reads a change feed reads the IdP in full anyway, to catch anything a feed
 * missed: after `every` since the last full read, or once `cron` (in `tz`) has fired since it.
 */
const reconcileSchema = z
  .union([
    z.object({ every: durationSchema }).strict(),
    z.object({ cron: z.string().min(1), tz: z.string().optional() }).strict(),
  ])
  .default({ every: 86_400_000 });
/** Where alerts go: a webhook receiving Dirsync's JSON (HMAC-signed) or a Slack-compatible body. */
const webhookSchema = z
  .object({
    /** The receiver's URL (http or https). */
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    /** `json`: Dirsync's own event body; `slack`: `{ text, blocks }` as Slack incoming webhooks take. */
    format: z.enum(['json', 'slack']).default('json'),
    /**
     * Signs `json` bodies: `X-Dirsync-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
     * with `X-Dirsync-Timestamp`, so the receiver can check origin and refuse replays.
     */
    secret: secretRefSchema.optional(),
  })
  .strict();

/** E-mail over SMTP (STARTTLS when the server offers it, or TLS from the start with `secure`). */
const emailSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    /** TLS from the first byte (port 465); otherwise STARTTLS is used when offered. */
    secure: z.boolean().default(false),
    user: z.string().optional(),
    password: secretRefSchema.optional(),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
  })
  .strict();

/**
 * Alerts: a run held for approval, a connector failing several runs in a row, a connector whose
 * last success is too old, and each one's recovery. Sent from a durable outbox with retries, so a
 * slow or dead receiver never delays a sync.
 */
const alertsSchema = z
  .object({
    webhooks: z.array(webhookSchema).default([]),
    email: emailSchema.optional(),
    /** A connector whose last this-many finished runs all failed is "failing". */
    failuresInARow: z.number().int().min(1).default(3),
    /** A connector with no successful run for this long is "stale". */
    staleAfter: durationSchema.default(86_400_000),
    /** How often the conditions are evaluated (every worker does; one of them sends each alert). */
    checkEvery: durationSchema.default(30_000),
    /** Attempts per alert and receiver before it is given up (backoff doubles from 5 s). */
    maxAttempts: z.number().int().min(1).max(20).default(8),
    /** The dashboard's public URL, for links in alerts. */
    dashboardUrl: z.url().optional(),
  })
  .strict()
  .default({ webhooks: [], failuresInARow: 3, staleAfter: 86_400_000, checkEvery: 30_000, maxAttempts: 8 });

export type AlertsConfig = z.infer<typeof alertsSchema>;

/** Fields every connector entry has, whatever its kind. */
export const commonConnectorShape = {
  /** Unique name of the directory this connector fills (`[a-z0-9][a-z0-9_-]*`). */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, - or _ (max 63)'),
  /** Shown in the dashboard. */
  title: z.string().optional(),
  schedule: scheduleSchema,
  /** Full reads between incremental ones (connectors with a change feed); default daily. */
  reconcile: reconcileSchema,
  filters: filtersSchema,
  transform: transformSchema,
  /** Groups every synced user joins (created as local groups in this directory). */
  localGroups: z.array(localGroupSchema).default([]),
  deletion: deletionSchema,
  guard: guardSchema,
  /** A run taking longer than this is failed cleanly. */
  maxRunDuration: positiveDurationSchema.default(3_600_000),
};

/** A CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a single address. */
const cidrSchema = z.string().refine(
  (s) => {
    const [addr, bits, extra] = s.split('/');
    if (extra !== undefined || !addr) return false;
    const v = isIP(addr);
    if (v === 0) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d+$/.test(bits) && n >= 0 && n <= (v === 4 ? 32 : 128);
  },
  { message: 'must be an IP address or a CIDR block such as 10.0.0.0/8' },
);

/**
 * An Atlassian application (Jira, Confluence, Bitbucket, Bamboo) that reads the synchronized
 * directories over the Crowd REST API, as a "Crowd directory" in its user-directory settings.
 */
const crowdApplicationSchema = z
  .object({
    /** The application name the Atlassian application sends (HTTP Basic user name). */
    name: z.string().min(1).max(255),
    /** The application password (HTTP Basic password): a secret reference, never inline. */
    password: secretRefSchema,
    /**
     * Connector names whose directories this application sees, in precedence order: a user or
     * group name present in two directories resolves to the first one listed (Crowd's directory order).
     */
    directories: z.array(z.string().min(1)).min(1, 'list at least one connector'),
    /** Client addresses allowed to use this application (CIDR blocks); any address when absent. */
    allowedAddresses: z.array(cidrSchema).optional(),
  })
  .strict();

/** The Crowd REST API served by `dirsync serve` under /rest/usermanagement/1 (and /latest). */
const crowdSchema = z
  .object({
    /** Applications allowed to read the directories; none means the Crowd API answers no one. */
    applications: z.array(crowdApplicationSchema).default([]),
  })
  .strict();

/** The default of `changeLog.retention`: 90 days. */
export const DEFAULT_CHANGE_RETENTION_MS = 90 * 86_400_000;
/** The shortest retention accepted: below it, an application polling hourly could miss its window. */
const MIN_CHANGE_RETENTION_MS = 3_600_000;

/**
 * The run change log (`dirsync.run_changes`: every create, update, deactivation, deletion and
 * membership change of every run), which user and group history, the run pages and Crowd's
 * incremental synchronisation read.
 */
const changeLogSchema = z
  .object({
    /**
     * How long a run's change detail is kept after the run finished (`never`: forever). Workers
     * prune older detail run by run; the run itself stays (status, counts), shown as "detail
     * pruned". A Crowd event token that needs a pruned run expires, and the application does a
     * full synchronisation. Default 90 days: history covers a quarterly access review, while the
     * Crowd applications, which poll every few minutes, need only hours.
     */
    retention: z
      .union([
        z.literal('never'),
        durationSchema.refine((ms) => ms >= MIN_CHANGE_RETENTION_MS, {
          message: 'must be at least 1h (or never): applications poll for events within that',
        }),
      ])
      .default(DEFAULT_CHANGE_RETENTION_MS),
  })
  .strict();

export type ChangeLogConfig = z.infer<typeof changeLogSchema>;

const _commonConnectorSchema = z.object(commonConnectorShape);
export type CommonConnectorConfig = z.infer<typeof _commonConnectorSchema>;

/** A parsed connector entry: the common fields plus the connector's own, tagged by `kind`. */
export type ConnectorConfig = CommonConnectorConfig & { kind: string } & Record<string, unknown>;

export function connectorEntrySchema(connector: Connector) {
  return connector.configSchema.extend(commonConnectorShape).strict();
}

export function configSchema(connectors: readonly Connector[]) {
  const entries = connectors.map((c) => connectorEntrySchema(c));
  const entry =
    entries.length === 1
      ? (entries[0] as (typeof entries)[number])
      : z.discriminatedUnion(
          'kind',
          entries as unknown as [(typeof entries)[number], ...(typeof entries)[number][]],
        );
  return z
    .object({
      log: z
        .object({
          level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        })
        .strict()
        .default({ level: 'info' }),
      queue: z
        .object({
          /** Redis key prefix of the BullMQ queue. */
          prefix: z.string().min(1).default('dirsync'),
          /** Runs one worker process executes at once (of different connectors). */
          concurrency: z.number().int().min(1).max(64).default(2),
        })
        .strict()
        .default({ prefix: 'dirsync', concurrency: 2 }),
      server: z
        .object({
          host: z.string().default('127.0.0.1'),
          port: z.number().int().min(0).max(65535).default(8080),
        })
        .strict()
        .default({ host: '127.0.0.1', port: 8080 }),
      crowd: crowdSchema.default({ applications: [] }),
      changeLog: changeLogSchema.default({ retention: DEFAULT_CHANGE_RETENTION_MS }),
      connectors: z.array(entry).min(1, 'configure at least one connector'),
      alerts: alertsSchema,
    })
    .strict()
    .superRefine((cfg, ctx) => {
      const seen = new Map<string, number>();
      cfg.connectors.forEach((c, i) => {
        const name = (c as { name: string }).name;
        const first = seen.get(name);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['connectors', i, 'name'],
            message: `duplicate connector name "${name}" (also connectors[${first}])`,
          });
        } else seen.set(name, i);
      });
      const apps = new Map<string, number>();
      cfg.crowd.applications.forEach((a, i) => {
        const first = apps.get(a.name.toLowerCase());
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['crowd', 'applications', i, 'name'],
            message: `duplicate application name "${a.name}" (also crowd.applications[${first}])`,
          });
        } else apps.set(a.name.toLowerCase(), i);
        a.directories.forEach((d, j) => {
          if (!seen.has(d)) {
            ctx.addIssue({
              code: 'custom',
              path: ['crowd', 'applications', i, 'directories', j],
              message: `no connector is named "${d}"`,
            });
          }
          if (a.directories.indexOf(d) !== j) {
            ctx.addIssue({
              code: 'custom',
              path: ['crowd', 'applications', i, 'directories', j],
              message: `"${d}" is listed twice`,
            });
          }
        });
      });
    });
}

export interface DirsyncConfig {
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  queue: { prefix: string; concurrency: number };
  server: { host: string; port: number };
  /** The Crowd REST API; absent means no application is configured. */
  crowd?: { applications: CrowdApplicationConfig[] };
  connectors: ConnectorConfig[];
  /** Always present once parsed; optional for configs built in code. */
  alerts?: AlertsConfig;
  /** Retention of the run change log; absent (configs built in code) means the default. */
  changeLog?: ChangeLogConfig;
}

/** One application of `crowd.applications`. */
export interface CrowdApplicationConfig {
  name: string;
  password: SecretRef;
  directories: string[];
  allowedAddresses?: string[] | undefined;
}

/** `connectors[1].schedule.every` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out || '(root)';
}
