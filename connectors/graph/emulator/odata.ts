/**
 * The OData query options the directory endpoints of Graph accept, with Graph's limits and error
 * messages: `$top` 1–999, `$select` checked against the entity type, and the small `$filter`
 * grammar the directory supports without advanced queries (eq, in, startswith, and/or, not on
 * booleans is left out).
 * https://learn.microsoft.com/graph/query-parameters
 */
import { GraphHttpError } from './http.js';

export interface ListQuery {
  select: string[] | null;
  top: number | null;
  filter: ((o: Record<string, unknown>) => boolean) | null;
  skiptoken: string | null;
  expand: string | null;
  count: boolean;
  /** Raw `$search` and `$orderby` (see advanced.ts). */
  search: string | null;
  orderby: string | null;
}

/** Graph accepts the system query options with or without the `$` prefix on v1.0. */
function opt(q: URLSearchParams, name: string): string | null {
  return q.get(`$${name}`) ?? q.get(name);
}

export function parseListQuery(
  q: URLSearchParams,
  entity: string,
  selectable: ReadonlySet<string>,
  filterable: ReadonlySet<string>,
): ListQuery {
  const selectRaw = opt(q, 'select');
  let select: string[] | null = null;
  if (selectRaw !== null) {
    select = selectRaw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const s of select) {
      if (!selectable.has(s)) {
        throw new GraphHttpError(
          400,
          'Request_BadRequest',
          `Could not find a property named '${s}' on type 'microsoft.graph.${entity}'.`,
        );
      }
    }
  }
  const topRaw = opt(q, 'top');
  let top: number | null = null;
  if (topRaw !== null) {
    top = Number(topRaw);
    if (!Number.isInteger(top) || top < 1 || top > 999) {
      throw new GraphHttpError(
        400,
        'Request_BadRequest',
        `Invalid page size specified: '${topRaw}'. Must be between 1 and 999 inclusive.`,
      );
    }
  }
  const filterRaw = opt(q, 'filter');
  const filter = filterRaw === null ? null : compileFilter(filterRaw, entity, filterable);
  const countRaw = opt(q, 'count');
  return {
    select,
    top,
    filter,
    skiptoken: opt(q, 'skiptoken'),
    expand: opt(q, 'expand'),
    count: countRaw === 'true',
    search: opt(q, 'search'),
    orderby: opt(q, 'orderby'),
  };
}

type Pred = (o: Record<string, unknown>) => boolean;
type Tok = { t: 'id' | 'str' | 'punct'; v: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ') {
      i++;
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new Error('unterminated string');
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += s[i];
        i++;
      }
      out.push({ t: 'str', v });
    } else if ('(),'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else {
      let v = '';
      while (i < s.length && !" (),'".includes(s[i] as string)) v += s[i++];
      out.push({ t: 'id', v });
    }
  }
  return out;
}

const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);

/** Compiles a filter; string comparisons are case-insensitive, as in the directory. */
export function compileFilter(src: string, entity: string, filterable: ReadonlySet<string>): Pred {
  const unsupported = (detail: string) =>
    new GraphHttpError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported or invalid query filter clause specified: ${detail}`,
    );
  let toks: Tok[];
  try {
    toks = tokenize(src);
  } catch {
    throw new GraphHttpError(400, 'BadRequest', `Invalid filter clause: ${src}`);
  }
  let p = 0;
  const peek = () => toks[p];
  const next = () => {
    const t = toks[p++];
    if (!t) throw unsupported('unexpected end of filter');
    return t;
  };
  const expect = (v: string) => {
    const t = next();
    if (t.v !== v) throw unsupported(`expected '${v}' near '${t.v}'`);
  };
  const prop = (name: string) => {
    if (!filterable.has(name)) {
      const resource = entity.charAt(0).toUpperCase() + entity.slice(1);
      throw new GraphHttpError(
        400,
        'Request_UnsupportedQuery',
        `Unsupported or invalid query filter clause specified for property '${name}' of resource '${resource}'.`,
      );
    }
    return name;
  };
  const literal = (): unknown => {
    const t = next();
    if (t.t === 'str') return t.v;
    if (t.v === 'true') return true;
    if (t.v === 'false') return false;
    if (t.v === 'null') return null;
    throw unsupported(`invalid literal '${t.v}'`);
  };
  const atom = (): Pred => {
    const t = next();
    if (t.v === '(') {
      const e = orExpr();
      expect(')');
      return e;
    }
    if (t.t === 'id' && t.v.toLowerCase() === 'startswith') {
      expect('(');
      const name = prop(next().v);
      expect(',');
      const lit = literal();
      expect(')');
      if (typeof lit !== 'string') throw unsupported('startswith needs a string');
      const l = lit.toLowerCase();
      return (o) => typeof o[name] === 'string' && (o[name] as string).toLowerCase().startsWith(l);
    }
    if (t.t === 'id') {
      const name = prop(t.v);
      const op = next().v;
      if (op === 'eq' || op === 'ne') {
        const lit = lower(literal());
        return op === 'eq' ? (o) => lower(o[name]) === lit : (o) => lower(o[name]) !== lit;
      }
      if (op === 'in') {
        expect('(');
        const set = new Set<unknown>();
        for (;;) {
          set.add(lower(literal()));
          const sep = next().v;
          if (sep === ')') break;
          if (sep !== ',') throw unsupported(`expected ',' or ')' near '${sep}'`);
        }
        // The directory caps `in` lists at 15 values.
        if (set.size > 15) throw unsupported('too many values in an in clause (max 15)');
        return (o) => set.has(lower(o[name]));
      }
      throw unsupported(`operator '${op}'`);
    }
    throw unsupported(`'${t.v}'`);
  };
  const andExpr = (): Pred => {
    let left = atom();
    while (peek()?.v === 'and') {
      p++;
      const a = left;
      const b = atom();
      left = (o) => a(o) && b(o);
    }
    return left;
  };
  const orExpr = (): Pred => {
    let left = andExpr();
    while (peek()?.v === 'or') {
      p++;
      const a = left;
      const b = andExpr();
      left = (o) => a(o) || b(o);
    }
    return left;
  };
  const pred = orExpr();
  if (p !== toks.length) throw unsupported(`unexpected '${toks[p]?.v}'`);
  return pred;
}

/** Opaque paging state in a `$skiptoken`: the next index and the id served just before it. */
export interface Cursor {
  i: number;
  last: string | null;
}

export function encodeCursor(c: Cursor & Record<string, unknown>): string {
  return `RFNwdAIA${Buffer.from(JSON.stringify(c)).toString('base64url')}`;
}

export function decodeCursor(token: string): Cursor & Record<string, unknown> {
  try {
    if (!token.startsWith('RFNwdAIA')) throw new Error('prefix');
    const c = JSON.parse(Buffer.from(token.slice(8), 'base64url').toString('utf8')) as Cursor &
      Record<string, unknown>;
    if (typeof c.i !== 'number') throw new Error('shape');
    return c;
  } catch {
    throw new GraphHttpError(400, 'Request_BadRequest', `Invalid paging token: '${token.slice(0, 20)}...'.`);
  }
}

/**
 * Resumes a listing: at the stored index when the object before it is still the one served last,
 * else just after that object wherever it moved (so removals between pages skip nobody).
 */
export function resumeIndex<T extends { id: string }>(
  list: readonly T[],
  c: Cursor,
  idOf: (x: T) => string,
): number {
  if (c.last === null) return c.i;
  const prev = list[c.i - 1];
  if (prev && idOf(prev) === c.last) return c.i;
  const at = list.findIndex((x) => idOf(x) === c.last);
  return at >= 0 ? at + 1 : Math.min(c.i, list.length);
}

/** Rebuilds a URL's query with a new `$skiptoken`, keeping the other options as the client sent them. */
export function withSkiptoken(
  base: string,
  path: string,
  q: URLSearchParams,
  token: string,
  name = '$skiptoken',
): string {
  const parts: string[] = [];
  for (const [k, v] of q) {
    if (k === '$skiptoken' || k === 'skiptoken' || k === '$deltatoken' || k === 'deltatoken') continue;
    parts.push(`${k}=${encodeURIComponent(v).replace(/%2C/g, ',')}`);
  }
  parts.push(`${name}=${token}`);
  return `${base}${path}?${parts.join('&')}`;
}
