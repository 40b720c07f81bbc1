/**
 * Crowd Query Language, the `restriction` parameter of GET /search:
 *
 *   restriction := or
 *   or          := and ("or" and)*
 *   and         := primary ("and" primary)*
 *   primary     := "(" or ")" | property op value
 *   op          := "=" | ">" | "<"
 *   value       := "quoted \"text\"" | 'quoted' | bare-word
 *
 * `=` with `*` at the end, the start or both is STARTS_WITH, ENDS_WITH or CONTAINS; `*` inside a
 * value is a wildcard. Keywords are case-insensitive.
 *
 * Written here rather than taken from npm: the CQL parsers there are for other languages of the same
 * name (Cassandra CQL, OGC CQL filters, the Clinical Quality Language) and none parses Crowd's.
 * The grammar is a dozen lines, so a small recursive-descent parser with exact error positions is the
 * safer choice than bending one of those.
 */
import { CrowdError } from './errors.js';
import type { Restriction } from './restriction.js';

type Token =
  | { t: 'word'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'op'; v: '=' | '>' | '<'; at: number }
  | { t: '(' | ')'; at: number }
  | { t: 'end'; at: number };

const MAX_LENGTH = 4096;

function fail(at: number, what: string): never {
  throw new CrowdError('ILLEGAL_ARGUMENT', `invalid restriction at character ${at + 1}: ${what}`);
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      out.push({ t: c, at: i++ });
    } else if (c === '=' || c === '>' || c === '<') {
      if (src[i + 1] === '=') fail(i, `"${c}=" is not a Crowd operator (use =, > or <)`);
      out.push({ t: 'op', v: c, at: i++ });
    } else if (c === '!') {
      fail(i, 'Crowd restrictions have no negation');
    } else if (c === '"' || c === "'") {
      const start = i++;
      let v = '';
      for (;;) {
        if (i >= src.length) fail(start, 'unterminated quoted value');
        const d = src[i++] as string;
        if (d === '\\' && i < src.length) v += src[i++];
        else if (d === c) break;
        else v += d;
      }
      out.push({ t: 'string', v, at: start });
    } else {
      const start = i;
      while (i < src.length && !/[\s()=<>!"']/.test(src[i] as string)) i++;
      out.push({ t: 'word', v: src.slice(start, i), at: start });
    }
  }
  out.push({ t: 'end', at: src.length });
  return out;
}

/** The value of `=` as a match mode: `jo*` starts with, `*@x.org` ends with, `*an*` contains. */
function equalsTerm(property: string, value: string, quoted: boolean): Restriction {
  const star = value.indexOf('*');
  if (star < 0 || value === '') return { kind: 'property', property, mode: 'EXACTLY_MATCHES', value };
  const lead = value.startsWith('*');
  const trail = value.endsWith('*') && value.length > 1;
  const inner = value.slice(lead ? 1 : 0, trail ? -1 : undefined);
  if (inner.includes('*')) return { kind: 'property', property, mode: 'WILDCARD', value };
  if (inner === '' && !quoted) return { kind: 'all' };
  if (lead && trail) return { kind: 'property', property, mode: 'CONTAINS', value: inner };
  if (trail) return { kind: 'property', property, mode: 'STARTS_WITH', value: inner };
  return { kind: 'property', property, mode: 'ENDS_WITH', value: inner };
}

export function parseCql(src: string | undefined): Restriction {
  const text = (src ?? '').trim();
  if (text === '') return { kind: 'all' };
  if (text.length > MAX_LENGTH) {
    throw new CrowdError('ILLEGAL_ARGUMENT', `the restriction is longer than ${MAX_LENGTH} characters`);
  }
  const tokens = tokenize(text);
  let pos = 0;
  let depth = 0;
  const peek = () => tokens[pos] as Token;
  const keyword = (k: string) => {
    const t = peek();
    return t.t === 'word' && t.v.toLowerCase() === k;
  };

  const or = (): Restriction => {
    const parts = [and()];
    while (keyword('or')) {
      pos++;
      parts.push(and());
    }
    return parts.length === 1
      ? (parts[0] as Restriction)
      : { kind: 'boolean', logic: 'OR', restrictions: parts };
  };
  const and = (): Restriction => {
    const parts = [primary()];
    while (keyword('and')) {
      pos++;
      parts.push(primary());
    }
    return parts.length === 1
      ? (parts[0] as Restriction)
      : { kind: 'boolean', logic: 'AND', restrictions: parts };
  };
  const primary = (): Restriction => {
    const t = peek();
    if (t.t === '(') {
      if (++depth > 32) fail(t.at, 'parentheses nested too deeply');
      pos++;
      const inner = or();
      const close = peek();
      if (close.t !== ')') fail(close.at, 'expected ")"');
      pos++;
      depth--;
      return inner;
    }
    if (t.t !== 'word' || ['and', 'or'].includes(t.v.toLowerCase())) {
      fail(t.at, 'expected a property name such as name, email, active or createdDate');
    }
    pos++;
    const op = peek();
    if (op.t !== 'op') fail(op.at, `expected =, > or < after "${t.v}"`);
    pos++;
    const v = peek();
    if (v.t !== 'word' && v.t !== 'string') fail(v.at, `expected a value after "${t.v} ${op.v}"`);
    pos++;
    if (op.v === '=') return equalsTerm(t.v, v.v, v.t === 'string');
    return { kind: 'property', property: t.v, mode: op.v === '>' ? 'GREATER_THAN' : 'LESS_THAN', value: v.v };
  };

  const r = or();
  const rest = peek();
  if (rest.t !== 'end') fail(rest.at, 'expected "and", "or" or the end');
  return r;
}
