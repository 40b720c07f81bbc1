/**
 * The one configuration schema. A config file is parsed once at start; every problem is reported
 * with its path, and nothing starts while any remains.
 */
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
        /** Skip users the IdP marks disabled/suspended (they are then treated as absent). */
        activeOnly: z.boolean().default(false),
        /** Every predicate must hold for a user to be synced. */
        where: z.array(userPredicateSchema).default([]),
      })
      .strict()
      .default({ activeOnly: false, where: [] }),
  })
  .strict()
  .default({ groups: { include: [], exclude: [] }, users: { activeOnly: false, where: [] } });

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
      /** Most removals allowed, as a percentage of what the directory holds now. */
      maxPercent: z.number().min(0).max(100).default(maxPercent),
    })
    .strict()
    .default({ maxCount, maxPercent });

const guardSchema = z
  .object({
    users: limitSchema(500, 10),
    groups: limitSchema(100, 10),
    memberships: limitSchema(5000, 10),
    /** Percentage limits apply only once a run removes more than this many objects of a kind. */
    minRemovals: z.number().int().min(0).default(10),
  })
  .strict()
  .default({
    users: { maxCount: 500, maxPercent: 10 },
    groups: { maxCount: 100, maxPercent: 10 },
    memberships: { maxCount: 5000, maxPercent: 10 },
    minRemovals: 10,
  });

const scheduleSchema = z
  .union([
    z.object({ every: durationSchema, jitter: durationSchema.optional() }).strict(),
    z
      .object({ cron: z.string().min(1), tz: z.string().optional(), jitter: durationSchema.optional() })
      .strict(),
    z.object({ manual: z.literal(true) }).strict(),
  ])
  .default({ every: 3_600_000 });

/** Fields every connector entry has, whatever its kind. */
export const commonConnectorShape = {
  /** Unique name of the directory this connector fills (`[a-z0-9][a-z0-9_-]*`). */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, - or _ (max 63)'),
  /** Shown in the dashboard. */
  title: z.string().optional(),
  schedule: scheduleSchema,
  filters: filtersSchema,
  transform: transformSchema,
  /** Groups every synced user joins (created as local groups in this directory). */
  localGroups: z.array(localGroupSchema).default([]),
  deletion: deletionSchema,
  guard: guardSchema,
  /** A run taking longer than this is failed cleanly. */
  maxRunDuration: durationSchema.default(3_600_000),
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
      connectors: z.array(entry).min(1, 'configure at least one connector'),
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
