/**
 * The transform template language: `{{ email | strip_domain | lower || username }}`.
 *
 * A template is text with `{{ … }}` blocks. A block is one or more alternatives separated by `||`;
 * the first alternative with a non-empty value wins. An alternative is a field path
 * (`username`, `attributes.department`) or a quoted literal, followed by filters (`| lower`,
 * `| regex_replace:'^ext-':''`). Templates are parsed once per run into closures; nothing is
 * evaluated as code.
 */

export type Value = unknown;
export type Scope = Record<string, unknown>;
type Filter = (v: Value) => Value;

export class TemplateError extends Error {}

const asText = (v: Value): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'string'
      ? v
      : typeof v === 'object'
        ? JSON.stringify(v)
        : String(v);
const isEmpty = (v: Value) => v === null || v === undefined || v === '';

function foldAscii(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(
      /[łŁøØđĐıßæÆœŒ]/g,
      (c) =>
        ({
          ł: 'l',
          Ł: 'L',
          ø: 'o',
          Ø: 'O',
          đ: 'd',
          Đ: 'D',
          ı: 'i',
          ß: 'ss',
          æ: 'ae',
          Æ: 'AE',
          œ: 'oe',
          Œ: 'OE',
        })[c] ?? c,
    );
}

type FilterFactory = (args: (string | number)[]) => Filter;

const str =
  (f: (s: string) => string): FilterFactory =>
  () =>
  (v) =>
    isEmpty(v) ? v : f(asText(v));

/** Every filter a template may use, with the number of arguments it takes. */
const FILTERS: Record<string, { arity: number[]; make: FilterFactory }> = {
  lower: { arity: [0], make: str((s) => s.toLowerCase()) },
  upper: { arity: [0], make: str((s) => s.toUpperCase()) },
  trim: { arity: [0], make: str((s) => s.trim()) },
  /** `jane.doe@example.com` → `jane.doe` */
  strip_domain: { arity: [0], make: str((s) => (s.includes('@') ? s.slice(0, s.lastIndexOf('@')) : s)) },
  /** `jane.doe@example.com` → `example.com` (empty when there is no `@`) */
  domain: { arity: [0], make: str((s) => (s.includes('@') ? s.slice(s.lastIndexOf('@') + 1) : '')) },
  /** `DOMAIN\\jdoe` → `jdoe` */
  strip_netbios: { arity: [0], make: str((s) => s.slice(s.lastIndexOf('\\') + 1)) },
  /** Removes diacritics and folds letters such as ł, ø, ß to ASCII. */
  ascii: { arity: [0], make: str(foldAscii) },
  nfkc: { arity: [0], make: str((s) => s.normalize('NFKC')) },
  /** Lower-case ASCII with runs of other characters turned into `-`. */
  slug: {
    arity: [0],
    make: str((s) =>
      foldAscii(s)
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, ''),
    ),
  },
  replace: {
    arity: [2],
    make: ([a, b]) => {
      const from = String(a);
      const to = String(b);
      return (v) => (isEmpty(v) ? v : asText(v).split(from).join(to));
    },
  },
  regex_replace: {
    arity: [2, 3],
    make: ([pattern, replacement, flags]) => {
      let re: RegExp;
      try {
        re = new RegExp(String(pattern), `${flags === undefined ? 'g' : String(flags)}u`);
      } catch (e) {
        throw new TemplateError(
          `regex_replace: invalid pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`,
        );
      }
      const rep = String(replacement);
      return (v) => (isEmpty(v) ? v : asText(v).replace(re, rep));
    },
  },
  prefix: {
    arity: [1],
    make:
      ([p]) =>
      (v) =>
        isEmpty(v) ? v : `${String(p)}${asText(v)}`,
  },
  suffix: {
    arity: [1],
    make:
      ([p]) =>
      (v) =>
        isEmpty(v) ? v : `${asText(v)}${String(p)}`,
  },
  truncate: {
    arity: [1],
    make: ([n]) => {
      if (typeof n !== 'number' || n < 1) throw new TemplateError('truncate needs a positive number');
      return (v) => (isEmpty(v) ? v : Array.from(asText(v)).slice(0, n).join(''));
    },
  },
  /** `split:'.':0` takes the first part of `jane.doe`. Negative indexes count from the end. */
  split: {
    arity: [2],
    make: ([sep, idx]) => {
      if (typeof idx !== 'number') throw new TemplateError('split needs a number as its second argument');
      return (v) => {
        if (isEmpty(v)) return v;
        const parts = asText(v).split(String(sep));
        return parts.at(idx) ?? '';
      };
    },
  },
  default: {
    arity: [1],
    make:
      ([d]) =>
      (v) =>
        isEmpty(v) ? d : v,
  },
};

export const FILTER_NAMES = Object.keys(FILTERS);

/** Tokenises one block's source into alternatives of `head | filter:args`. */
function parseBlock(src: string): (scope: Scope) => Value {
  const alternatives = splitTop(src, '||').map((alt) => parseAlternative(alt.trim()));
  return (scope) => {
    let last: Value = null;
    for (const alt of alternatives) {
      last = alt(scope);
      if (!isEmpty(last)) return last;
    }
    return last;
  };
}

/** Splits on a separator that is not inside quotes. */
function splitTop(src: string, sep: string): string[] {
  const out: string[] = [];
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as string;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (src.startsWith(sep, i) && !(sep === '|' && (src[i + 1] === '|' || src[i - 1] === '|'))) {
      out.push(src.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  if (quote) throw new TemplateError(`unterminated quote in "${src}"`);
  out.push(src.slice(start));
  return out;
}

function parseLiteral(s: string): string | number | null {
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  const q = s[0];
  if ((q === "'" || q === '"') && s.endsWith(q) && s.length >= 2) {
    // Only an escaped quote is unescaped: backslashes belong to regular expressions.
    return s.slice(1, -1).replace(/\\(['"])/g, '$1');
  }
  return null;
}

function parseAlternative(src: string): (scope: Scope) => Value {
  const [headSrc, ...filterSrcs] = splitTop(src, '|').map((s) => s.trim());
  if (!headSrc) throw new TemplateError(`empty expression in "${src}"`);
  const literal = parseLiteral(headSrc);
  let head: (scope: Scope) => Value;
  if (literal !== null) head = () => literal;
  else if (/^[A-Za-z_][\w-]*(\.[\w-]+)*$/.test(headSrc)) {
    const path = headSrc.split('.');
    head = (scope) => {
      let v: unknown = scope;
      for (const p of path) {
        if (v === null || typeof v !== 'object') return null;
        v = (v as Record<string, unknown>)[p];
      }
      return v ?? null;
    };
  } else throw new TemplateError(`"${headSrc}" is neither a field path nor a quoted literal`);

  const filters = filterSrcs.map((fs) => {
    const [name, ...argSrcs] = splitTop(fs, ':').map((s) => s.trim());
    const def = name ? FILTERS[name] : undefined;
    if (!def) throw new TemplateError(`unknown filter "${name}" (known: ${FILTER_NAMES.join(', ')})`);
    const args = argSrcs.map((a) => {
      const lit = parseLiteral(a);
      if (lit === null)
        throw new TemplateError(`filter ${name}: argument ${a} must be a quoted string or a number`);
      return lit;
    });
    if (!def.arity.includes(args.length)) {
      throw new TemplateError(
        `filter ${name} takes ${def.arity.join(' or ')} argument(s), got ${args.length}`,
      );
    }
    return def.make(args);
  });
  return (scope) => filters.reduce((v, f) => f(v), head(scope));
}

export type CompiledTemplate = (scope: Scope) => Value;

/**
 * Compiles a template. A template that is exactly one block returns the block's value as it is
 * (so `{{ attributes.employeeNumber }}` keeps a number a number); otherwise the result is text.
 */
export function compileTemplate(template: string): CompiledTemplate {
  const parts: (string | ((s: Scope) => Value))[] = [];
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      parts.push(rest);
      break;
    }
    if (open > 0) parts.push(rest.slice(0, open));
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`"{{" without "}}" in "${template}"`);
    parts.push(parseBlock(rest.slice(open + 2, close)));
    rest = rest.slice(close + 2);
  }
  if (parts.length === 1 && typeof parts[0] === 'function') return parts[0];
  return (scope) => parts.map((p) => (typeof p === 'string' ? p : asText(p(scope)))).join('');
}

/** Returns the compile error of a template, or null when it is valid (for config validation). */
export function templateError(template: string): string | null {
  try {
    compileTemplate(template);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
