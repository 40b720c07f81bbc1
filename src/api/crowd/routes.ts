/**
 * The Crowd REST API (`/rest/usermanagement/1` and `/latest`): the read resources Atlassian
 * applications use for a "Crowd directory", answering as a read-only Crowd server whose users sign in
 * through SSO. Mounted by ../server.ts as its own plugin: its own authentication (./auth.ts), body
 * parsers, error and not-found answers, in Crowd's formats.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { authenticate, type CrowdApplication } from './auth.js';
import { parseSearchBody } from './body.js';
import { parseCql } from './cql.js';
import {
  groupEntity,
  groupRef,
  userEntity,
  userRef,
  type Base,
  type GroupRow,
  type UserRow,
} from './entities.js';
import { CrowdError, errorBody } from './errors.js';
import { currentToken, eventsSince, nothingSince, renderEvents } from './events.js';
import {
  CONTENT_TYPE,
  XML_DECL,
  escapeXml,
  negotiate,
  render,
  toJson,
  xmlElement,
  type Format,
  type Node,
} from './format.js';
import { LISTS, membershipSql, relationSql, searchSql, type Relation } from './lists.js';
import { restrictionSql, type EntityType, type Restriction } from './restriction.js';
import { PageMarks } from './pages.js';
import { pageSql, Snapshot, type GroupRecord, type UserRecord } from './store.js';

/** A page asks for at most this many entities; `max-results=-1` (Crowd's "all") streams them all. */
export const MAX_RESULTS = 10_000;
const DEFAULT_RESULTS = 1000;

export const CROWD_PREFIXES = ['/rest/usermanagement/1', '/rest/usermanagement/latest'];

export interface CrowdRouteOptions {
  pool: pg.Pool;
  applications: Map<string, CrowdApplication>;
  /** Records that an application was used (throttled by the caller). */
  touched?: (app: CrowdApplication, address: string) => void;
}

declare module 'fastify' {
  interface FastifyRequest {
    crowdApp?: CrowdApplication;
  }
}

type Query = Record<string, string | string[] | undefined>;

function param(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[0] : v;
}

function required(q: Query, name: string): string {
  const v = param(q, name);
  if (v === undefined || v === '')
    throw new CrowdError('ILLEGAL_ARGUMENT', `the ${name} parameter is required`);
  return v;
}

function integer(q: Query, name: string, fallback: number): number {
  const v = param(q, name);
  if (v === undefined || v === '') return fallback;
  if (!/^-?\d{1,12}$/.test(v))
    throw new CrowdError('ILLEGAL_ARGUMENT', `${name} must be an integer, not "${v}"`);
  return Number(v);
}

/** start-index and max-results; -1 is every result. */
export function paging(q: Query): { start: number; max: number | null } {
  const start = integer(q, 'start-index', 0);
  const max = integer(q, 'max-results', DEFAULT_RESULTS);
  if (start < 0) throw new CrowdError('ILLEGAL_ARGUMENT', 'start-index must not be negative');
  if (max < -1) throw new CrowdError('ILLEGAL_ARGUMENT', 'max-results must be -1 (all) or a count');
  if (max > MAX_RESULTS) {
    throw new CrowdError(
      'ILLEGAL_ARGUMENT',
      `max-results may be at most ${MAX_RESULTS} (page with start-index, or send -1 for all results)`,
    );
  }
  return { start, max: max === -1 ? null : max };
}

function expands(q: Query): Set<string> {
  const v = q.expand;
  const all = (Array.isArray(v) ? v : v ? [v] : []).flatMap((x) => x.split(','));
  return new Set(all.map((x) => x.trim().toLowerCase()).filter(Boolean));
}

function baseOf(req: FastifyRequest): Base {
  const version = req.url.startsWith('/rest/usermanagement/latest') ? 'latest' : '1';
  return `${req.protocol}://${req.headers.host ?? 'localhost'}/rest/usermanagement/${version}`;
}

/** Runs `fn` on a snapshot and closes it (answers that are not streamed). */
async function withSnapshot<T>(
  pool: pg.Pool,
  app: CrowdApplication,
  fn: (s: Snapshot) => Promise<T>,
): Promise<T> {
  const s = await Snapshot.open(pool, app.directories);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/**
 * A streamed answer: the first chunk is produced before the reply starts (so a failing query is
 * still a proper error answer); the snapshot closes when the stream ends or the client goes away.
 */
async function stream(reply: FastifyReply, format: Format, s: Snapshot, gen: AsyncGenerator<string>) {
  let first: IteratorResult<string>;
  try {
    first = await gen.next();
  } catch (e) {
    await s.close();
    throw e;
  }
  async function* all() {
    try {
      if (!first.done) yield first.value;
      for await (const chunk of gen) yield chunk;
    } finally {
      await gen.return(undefined);
      await s.close();
    }
  }
  return reply.type(CONTENT_TYPE[format]).send(Readable.from(all(), { objectMode: false }));
}

type Row = (UserRow | GroupRow) & { id: string };

/** A list of users or groups as a stream: names only, or whole entities with `expand`. */
async function* listChunks(
  s: Snapshot,
  format: Format,
  base: Base,
  kind: 'user' | 'group',
  full: boolean,
  attributes: boolean,
  query: {
    sql: string;
    params: unknown[];
    /** The page size (null: every row). */
    max: number | null;
    /** Called with each row, in order (the page marks of user searches). */
    onRow?: ((row: Row) => void) | undefined;
  },
): AsyncGenerator<string> {
  const item = (r: Row): Node =>
    kind === 'user'
      ? full
        ? userEntity(base, r as UserRow, attributes)
        : userRef(base, (r as UserRow).username)
      : full
        ? groupEntity(base, r as GroupRow, attributes)
        : groupRef(base, (r as GroupRow).name);
  let n = 0;
  const { onRow } = query;
  const rowsOf = async function* () {
    for await (const rows of s.rows<Row>(query.sql, query.params, 500, query.max)) {
      if (onRow) for (const r of rows) onRow(r);
      yield rows;
    }
  };
  if (format === 'xml') {
    yield `${XML_DECL}<${kind}s expand="${kind}">`;
    for await (const rows of rowsOf()) yield rows.map((r) => xmlElement(kind, item(r))).join('');
    yield `</${kind}s>`;
  } else {
    yield `{"expand":"${kind}","${kind}s":[`;
    for await (const rows of rowsOf()) {
      yield rows.map((r) => (n++ === 0 ? '' : ',') + JSON.stringify(toJson(item(r)))).join('');
    }
    yield ']}';
  }
}

/** The bulk membership document, streamed group by group. */
async function* membershipChunks(s: Snapshot, format: Format): AsyncGenerator<string> {
  type M = { name: string; users: string[]; groups: string[] };
  const sql = membershipSql(s.dirs);
  if (format === 'xml') {
    yield `${XML_DECL}<memberships>`;
    for await (const rows of s.rows<M>(sql, [], 200)) {
      let out = '';
      for (const m of rows) {
        out += `<membership group="${escapeXml(m.name)}"><users>`;
        for (const u of m.users) out += `<user name="${escapeXml(u)}"/>`;
        out += '</users><groups>';
        for (const g of m.groups) out += `<group name="${escapeXml(g)}"/>`;
        out += '</groups></membership>';
      }
      yield out;
    }
    yield '</memberships>';
  } else {
    let n = 0;
    yield '{"memberships":[';
    for await (const rows of s.rows<M>(sql, [], 200)) {
      yield rows
        .map(
          (m) =>
            (n++ === 0 ? '' : ',') +
            JSON.stringify({
              group: m.name,
              users: m.users.map((name) => ({ name })),
              groups: m.groups.map((name) => ({ name })),
            }),
        )
        .join('');
    }
    yield ']}';
  }
}

/** The non-GET requests that only read (or are answered without changing anything). */
const READS = /^(POST \/search|POST \/authentication|POST \/session(\/[^/]+)?|DELETE \/session(\/[^/]+)?)$/;

const READ_ONLY =
  'Dirsync serves its synchronized directories read-only: change users and groups in the identity provider';
const NO_PASSWORDS =
  'Dirsync users sign in through single sign-on; this directory does not authenticate passwords';

export async function crowdRoutes(app: FastifyInstance, opts: CrowdRouteOptions): Promise<void> {
  const { pool, applications } = opts;
  const marks = new PageMarks();
  const fmt = (req: FastifyRequest) => negotiate(req.headers.accept);

  app.addContentTypeParser(['application/xml', 'text/xml'], { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const format = fmt(req);
    const e =
      err instanceof CrowdError
        ? err
        : err.statusCode && err.statusCode < 500
          ? new CrowdError('ILLEGAL_ARGUMENT', err.message)
          : null;
    if (!e) {
      req.log.error({ err }, 'crowd request failed');
      return reply
        .code(500)
        .type(CONTENT_TYPE[format])
        .send(errorBody(format, 'OPERATION_FAILED', 'Internal error; see the Dirsync server log'));
    }
    if (e.status === 401) reply.header('www-authenticate', 'Basic realm="Crowd REST Service"');
    return reply
      .code(e.status)
      .type(CONTENT_TYPE[format])
      .send(errorBody(format, e.reason, e.message));
  });

  app.addHook('onRequest', async (req) => {
    req.crowdApp = authenticate(applications, req.headers.authorization, req.ip);
    opts.touched?.(req.crowdApp, req.ip);
    // Refused before any body is read: Crowd's answer to an application that may not modify.
    const path = (req.url.split('?')[0] as string).replace(/^\/rest\/usermanagement\/(1|latest)/, '');
    if (req.method !== 'GET' && req.method !== 'HEAD' && !READS.test(`${req.method} ${path}`)) {
      throw new CrowdError('APPLICATION_PERMISSION_DENIED', READ_ONLY);
    }
  });

  const appOf = (req: FastifyRequest) => req.crowdApp as CrowdApplication;
  const send = (reply: FastifyReply, format: Format, root: string, node: Node) =>
    reply.type(CONTENT_TYPE[format]).send(render(format, root, node));
  const hide = { schema: { hide: true } };
  const doc = (summary: string, description?: string) => ({
    schema: { tags: ['crowd'], summary, ...(description ? { description } : {}), security: [{ basic: [] }] },
  });

  // --- users and groups ------------------------------------------------------------------------
  app.get(
    '/user',
    doc('A user, by username (`expand=attributes` for its attributes)'),
    async (req, reply) => {
      const q = req.query as Query;
      const name = required(q, 'username');
      const u = await withSnapshot(pool, appOf(req), (s) => s.findUser(name));
      if (!u) throw new CrowdError('USER_NOT_FOUND', `User <${name}> does not exist`);
      return send(reply, fmt(req), 'user', userEntity(baseOf(req), u, expands(q).has('attributes')));
    },
  );

  app.get('/user/attribute', doc("A user's attributes"), async (req, reply) => {
    const name = required(req.query as Query, 'username');
    const u = await withSnapshot(pool, appOf(req), (s) => s.findUser(name));
    if (!u) throw new CrowdError('USER_NOT_FOUND', `User <${name}> does not exist`);
    return send(reply, fmt(req), 'attributes', userEntity(baseOf(req), u, true).attributes as Node);
  });

  app.get(
    '/group',
    doc('A group, by groupname (`expand=attributes` for its attributes)'),
    async (req, reply) => {
      const q = req.query as Query;
      const name = required(q, 'groupname');
      const g = await withSnapshot(pool, appOf(req), (s) => s.findGroup(name));
      if (!g) throw new CrowdError('GROUP_NOT_FOUND', `Group <${name}> does not exist`);
      return send(reply, fmt(req), 'group', groupEntity(baseOf(req), g, expands(q).has('attributes')));
    },
  );

  app.get('/group/attribute', doc("A group's attributes"), async (req, reply) => {
    const name = required(req.query as Query, 'groupname');
    const g = await withSnapshot(pool, appOf(req), (s) => s.findGroup(name));
    if (!g) throw new CrowdError('GROUP_NOT_FOUND', `Group <${name}> does not exist`);
    return send(reply, fmt(req), 'attributes', groupEntity(baseOf(req), g, true).attributes as Node);
  });

  // --- memberships and nesting -------------------------------------------------------------------
  /** Subject parameter, the optional name that turns the list into a membership check. */
  const RELATIONS: [string, Relation, string, string, string][] = [
    ['/user/group/direct', 'user-groups-direct', 'username', 'groupname', "A user's direct groups"],
    [
      '/user/group/nested',
      'user-groups-nested',
      'username',
      'groupname',
      "A user's groups, direct and inherited",
    ],
    ['/group/user/direct', 'group-users-direct', 'groupname', 'username', "A group's direct user members"],
    [
      '/group/user/nested',
      'group-users-nested',
      'groupname',
      'username',
      "A group's users, direct and through nested groups",
    ],
    [
      '/group/child-group/direct',
      'group-children-direct',
      'groupname',
      'child-groupname',
      "A group's direct child groups",
    ],
    [
      '/group/child-group/nested',
      'group-children-nested',
      'groupname',
      'child-groupname',
      "A group's child groups at any depth",
    ],
    [
      '/group/parent-group/direct',
      'group-parents-direct',
      'groupname',
      'parent-groupname',
      "A group's direct parent groups",
    ],
    [
      '/group/parent-group/nested',
      'group-parents-nested',
      'groupname',
      'parent-groupname',
      "A group's parent groups at any depth",
    ],
  ];
  for (const [path, rel, subjectParam, checkParam, summary] of RELATIONS) {
    app.get(
      path,
      doc(
        summary,
        `With \`${checkParam}\`: that one entity when it is a member, else MEMBERSHIP_NOT_FOUND. Paged by start-index and max-results.`,
      ),
      async (req, reply) => {
        const q = req.query as Query;
        const format = fmt(req);
        const base = baseOf(req);
        const subject = required(q, subjectParam);
        const check = param(q, checkParam);
        const listed = LISTS[rel];
        const page = check ? { start: 0, max: 1 } : paging(q);
        const s = await Snapshot.open(pool, appOf(req).directories);
        let streaming = false;
        try {
          const isUser = subjectParam === 'username';
          const subj = isUser ? await s.findUser(subject) : await s.findGroup(subject);
          if (!subj) {
            throw isUser
              ? new CrowdError('USER_NOT_FOUND', `User <${subject}> does not exist`)
              : new CrowdError('GROUP_NOT_FOUND', `Group <${subject}> does not exist`);
          }
          const p = pageSql(page.start, page.max, check ? 4 : 3);
          const sql = relationSql(rel, s.dirs, check ? '$3' : null) + p.sql;
          const params = [subj.id, ...(check ? [check] : []), ...p.params];
          if (check) {
            const { rows } = await s.query<Row>(sql, params);
            const row = rows[0];
            if (!row) {
              throw new CrowdError(
                'MEMBERSHIP_NOT_FOUND',
                `<${check}> is not a member of <${subject}> (${rel.replace(/-/g, ' ')})`,
              );
            }
            const node =
              listed === 'user'
                ? userEntity(base, row as UserRow, false)
                : groupEntity(base, row as GroupRow, false);
            return send(reply, format, listed, node);
          }
          const ex = expands(q);
          streaming = true;
          return await stream(
            reply,
            format,
            s,
            listChunks(s, format, base, listed, ex.has(listed), ex.has('attributes'), {
              sql,
              params,
              max: page.max,
            }),
          );
        } finally {
          if (!streaming) await s.close();
        }
      },
    );
  }

  app.get(
    '/group/membership',
    doc(
      'Every group with its direct user and group members (the document a full synchronisation reads)',
      'Streamed. XML: `<memberships><membership group="…"><users><user name="…"/></users><groups><group name="…"/></groups></membership></memberships>`.',
    ),
    async (req, reply) => {
      const format = fmt(req);
      const s = await Snapshot.open(pool, appOf(req).directories);
      return stream(reply, format, s, membershipChunks(s, format));
    },
  );

  // --- search ---------------------------------------------------------------------------------
  const search = async (req: FastifyRequest, reply: FastifyReply, restriction: Restriction) => {
    const q = req.query as Query;
    const entity = required(q, 'entity-type').toLowerCase();
    if (entity !== 'user' && entity !== 'group') {
      throw new CrowdError('ILLEGAL_ARGUMENT', 'entity-type must be user or group');
    }
    const page = paging(q);
    const params: unknown[] = [];
    const where = restrictionSql(restriction, entity as EntityType, params);
    const format = fmt(req);
    const ex = expands(q);
    const app = appOf(req);
    const s = await Snapshot.open(pool, app.directories);
    let sql = '';
    let values: unknown[] = [];
    let onLast: ((row: Row) => void) | undefined;
    try {
      const shifted = where.replace(/\$(\d+)/g, (_m, n) => `$${Number(n) + 1}`);
      if (page.max !== null) {
        // Resume after the previous page when the directories have not changed since (./pages.ts).
        const versions = await s.versions();
        const key = (start: number) => PageMarks.key(app.name, entity, where, params, start);
        const after = page.start > 0 ? marks.get(key(page.start), versions) : null;
        const next = key(page.start + page.max);
        const max = page.max;
        let seen = 0;
        onLast = (row) => {
          if (++seen !== max) return;
          const r = row as UserRecord | GroupRecord;
          marks.set(next, {
            versions,
            after:
              entity === 'user' ? [(r as UserRecord).username_lower] : [(r as GroupRecord).name_lower, r.id],
          });
        };
        if (after !== null) {
          const k = params.length + 2;
          const resume =
            entity === 'user'
              ? `u.username_lower > $${k}`
              : `(lower(g.name), g.id) > ($${k}::text, $${k + 1}::bigint)`;
          sql = searchSql(entity, s.dirs, `(${shifted}) AND ${resume}`) + ` LIMIT $${k + after.length}`;
          values = [...params, ...after, max];
        }
      }
      if (!sql) {
        const p = pageSql(page.start, page.max, params.length + 2);
        sql = searchSql(entity, s.dirs, shifted) + p.sql;
        values = [...params, ...p.params];
      }
    } catch (e) {
      await s.close();
      throw e;
    }
    return stream(
      reply,
      format,
      s,
      listChunks(s, format, baseOf(req), entity, ex.has(entity), ex.has('attributes'), {
        sql,
        params: values,
        max: page.max,
        onRow: onLast,
      }),
    );
  };
  app.get(
    '/search',
    doc(
      'Search users or groups with a Crowd Query Language restriction',
      'e.g. `restriction=active=true and email="*@example.com"`',
    ),
    async (req, reply) => search(req, reply, parseCql(param(req.query as Query, 'restriction'))),
  );
  app.post(
    '/search',
    doc('Search users or groups with a search-restriction body (XML or JSON)'),
    async (req, reply) => search(req, reply, parseSearchBody(req.body, req.headers['content-type'])),
  );

  // --- events ---------------------------------------------------------------------------------
  app.get('/event', doc('The current event token (incremental synchronisation)'), async (req, reply) => {
    const format = fmt(req);
    const token = await withSnapshot(pool, appOf(req), (s) => currentToken(s));
    return reply.type(CONTENT_TYPE[format]).send(renderEvents(format, { token, events: [] }));
  });
  app.get<{ Params: { token: string } }>(
    '/event/:token',
    doc(
      'The changes since an event token, and the next token',
      'EVENT_TOKEN_EXPIRED when the log no longer reaches the token: synchronise fully.',
    ),
    async (req, reply) => {
      const format = fmt(req);
      const list =
        (await nothingSince(pool, appOf(req).directories, req.params.token)) ??
        (await withSnapshot(pool, appOf(req), (s) => eventsSince(s, baseOf(req), req.params.token)));
      return reply.type(CONTENT_TYPE[format]).send(renderEvents(format, list));
    },
  );

  // --- configuration and authentication ---------------------------------------------------------
  app.get('/config/cookie', doc('The SSO cookie configuration'), async (req, reply) =>
    send(reply, fmt(req), 'cookie-config', { domain: '', secure: false, name: 'crowd.token_key' }),
  );
  const refuseAuth = async () => {
    throw new CrowdError('INVALID_USER_AUTHENTICATION', NO_PASSWORDS);
  };
  app.post(
    '/authentication',
    doc('Password authentication: always refused (users sign in through SSO)'),
    refuseAuth,
  );
  app.post('/session', hide, refuseAuth);
  app.get('/session/:token', hide, async () => {
    throw new CrowdError('INVALID_SSO_TOKEN', 'Dirsync issues no Crowd SSO tokens');
  });
  app.post('/session/:token', hide, async () => {
    throw new CrowdError('INVALID_SSO_TOKEN', 'Dirsync issues no Crowd SSO tokens');
  });
  app.delete('/session/:token', hide, async (_req, reply) => reply.code(204).send());
  app.delete('/session', hide, async (_req, reply) => reply.code(204).send());

  // Everything else that would change the directory: Crowd's answer to an application without
  // permission to modify it.
  app.route({
    method: ['POST', 'PUT', 'DELETE'],
    url: '/*',
    ...hide,
    handler: async () => {
      throw new CrowdError('APPLICATION_PERMISSION_DENIED', READ_ONLY);
    },
  });
  app.setNotFoundHandler(async (req, reply) => {
    const format = fmt(req);
    return reply
      .code(404)
      .type(CONTENT_TYPE[format])
      .send(
        errorBody(format, 'ILLEGAL_ARGUMENT', `no Crowd resource ${req.method} ${req.url.split('?')[0]}`),
      );
  });
}
