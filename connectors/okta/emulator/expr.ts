/**
 * Okta `filter` / `search` expressions, the subset a directory sync uses:
 * `attr op "value"` with eq, sw, co, gt, ge, lt, le, `attr pr`, `and`, `or`, parentheses, and
 * string escapes (`\"`). `filter` compares values case-sensitively and allows few attributes and
 * operators; `search` compares strings case-insensitively over any attribute.
 * https://developer.okta.com/docs/api/#filter
 */

export type Expr =
  | { op: 'and' | 'or'; left: Expr; right: Expr }
  | {
      op: 'eq' | 'sw' | 'co' | 'gt' | 'ge' | 'lt' | 'le';
      attr: string;
      value: string | number | boolean | null;
    }
  | { op: 'pr'; attr: string };

export class ExprError extends Error {}

const TOKEN = /\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+)/y;

function tokenize(s: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN.lastIndex < s.length && (m = TOKEN.exec(s)) !== null) out.push(m[1] as string);
  if (s.slice(TOKEN.lastIndex).trim() !== '') throw new ExprError('unterminated string');
  return out;
}

export function parseExpr(s: string): Expr {
  const t = tokenize(s);
  let i = 0;
  const peek = () => t[i]?.toLowerCase();
  const or = (): Expr => {
    let left = and();
    while (peek() === 'or') {
      i++;
      left = { op: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): Expr => {
    let left = primary();
    while (peek() === 'and') {
      i++;
      left = { op: 'and', left, right: primary() };
    }
    return left;
  };
  const primary = (): Expr => {
    if (t[i] === '(') {
      i++;
      const e = or();
      if (t[i++] !== ')') throw new ExprError('missing )');
      return e;
    }
    const attr = t[i++];
    const op = t[i++]?.toLowerCase();
    if (!attr || !/^[A-Za-z_][\w.]*$/.test(attr) || !op)
      throw new ExprError('expected attribute and operator');
    if (op === 'pr') return { op: 'pr', attr };
    if (!['eq', 'sw', 'co', 'gt', 'ge', 'lt', 'le'].includes(op))
      throw new ExprError(`unsupported operator ${op}`);
    const raw = t[i++];
    if (raw === undefined) throw new ExprError('missing value');
    let value: string | number | boolean | null;
    if (raw.startsWith('"')) value = raw.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (raw === 'null') value = null;
    else if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
    else throw new ExprError(`bad value ${raw}`);
    return { op: op as 'eq', attr, value };
  };
  const e = or();
  if (i !== t.length) throw new ExprError('trailing input');
  return e;
}

/** Checks the limits of `filter` (as opposed to `search`): allowed attributes and operators. */
export function checkFilter(e: Expr, allowed: Record<string, readonly string[]>): void {
  if ('left' in e) {
    checkFilter(e.left, allowed);
    checkFilter(e.right, allowed);
    return;
  }
  if (e.op === 'pr') throw new ExprError('filter does not support pr');
  const ops = allowed[e.attr];
  if (!ops || !ops.includes(e.op)) throw new ExprError(`filter does not support ${e.attr} ${e.op}`);
}

/** The value at a dotted path; through arrays it collects every element's value (`target.id`). */
function lookup(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const k of path.split('.')) {
    if (Array.isArray(v)) {
      v = v.flatMap((x) => {
        const y = typeof x === 'object' && x !== null ? (x as Record<string, unknown>)[k] : undefined;
        return y === undefined ? [] : [y];
      });
      continue;
    }
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export function evalExpr(e: Expr, obj: unknown, caseInsensitive: boolean): boolean {
  switch (e.op) {
    case 'and':
      return evalExpr(e.left, obj, caseInsensitive) && evalExpr(e.right, obj, caseInsensitive);
    case 'or':
      return evalExpr(e.left, obj, caseInsensitive) || evalExpr(e.right, obj, caseInsensitive);
    case 'pr': {
      const v = lookup(obj, e.attr);
      return v !== undefined && v !== null && v !== '';
    }
    default: {
      const raw = lookup(obj, e.attr);
      const values = Array.isArray(raw) ? raw : [raw];
      return values.some((v) => compare(e.op, v, e.value, caseInsensitive));
    }
  }
}

function compare(
  op: string,
  actual: unknown,
  expected: string | number | boolean | null,
  ci: boolean,
): boolean {
  if (expected === null || typeof expected === 'boolean') return op === 'eq' && actual === expected;
  if (actual === undefined || actual === null) return false;
  let a = typeof expected === 'number' ? Number(actual) : String(actual);
  let b: string | number = expected;
  if (ci && typeof a === 'string' && typeof b === 'string') {
    a = a.toLowerCase();
    b = b.toLowerCase();
  }
  switch (op) {
    case 'eq':
      return a === b;
    case 'sw':
      return typeof a === 'string' && a.startsWith(String(b));
    case 'co':
      return typeof a === 'string' && a.includes(String(b));
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    default:
      return false;
  }
}
