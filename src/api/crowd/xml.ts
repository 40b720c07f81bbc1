/**
 * Writes a Node (see ./format.ts for its conventions) as XML, in one pass.
 *
 * This is the hot path of a full synchronisation: every user and group of the directory goes
 * through it. It replaced fast-xml-parser's XMLBuilder, which first needed the Node copied into
 * its own shape and then spent most of a 100,000-user read in generic machinery (path matching,
 * name validation, one regex pass per entity per string); see bench/README.md for the figures.
 * The output is byte for byte what that builder wrote with our options (a unit test compares the
 * two on generated trees): the five predefined entities escaped by name in text and attribute
 * values, an element without content written as `<name/>`, booleans as `true`/`false`, dates as
 * ISO-8601 text. One deliberate difference: characters XML cannot carry (below), which the
 * builder wrote as they were, making the document malformed.
 */

/** The key of a Node that is a wrapper list (`wrap()` in ./format.ts). */
export const WRAP = '#wrap';

/**
 * What text needs: the five predefined entities, and the characters XML 1.0 cannot carry at all,
 * not even as a character reference (the C0 controls but tab, newline and carriage return, and
 * U+FFFE/U+FFFF). Postgres stores them, so a name or
 * attribute from an IdP may hold one (a vertical tab pasted from a spreadsheet); written as they
 * are, the whole document is malformed and the application's synchronisation fails. They are
 * written as U+FFFD instead (the JSON answers keep the exact text). NUL and lone surrogates never
 * get this far: the pipeline holds such records (src/pipeline/text.ts).
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const SPECIAL = /[&<>"'\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
// eslint-disable-next-line no-control-regex -- as above
const SPECIALS = /[&<>"'\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;
const ENTITY: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};
const entity = (c: string) => ENTITY[c] ?? '\uFFFD';

/** Text escaped for element content or a (double-quoted) attribute value. */
export function escapeText(s: string): string {
  // Most names and fields have nothing to escape: testing first avoids building a new string.
  return SPECIAL.test(s) ? s.replace(SPECIALS, entity) : s;
}

/** A scalar as XML text, or null when the value is left out (null, undefined). */
function scalar(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function isNode(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !(v instanceof Date) && !Array.isArray(v);
}

/** Appends `<name ...>...</name>` for `value` (nothing for null and undefined). */
function element(name: string, value: unknown, out: string[]): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) element(name, item, out);
    return;
  }
  if (!isNode(value)) {
    const text = scalar(value) as string;
    out.push(text === '' ? `<${name}/>` : `<${name}>${escapeText(text)}</${name}>`);
    return;
  }
  const wrapped = value[WRAP];
  if (typeof wrapped === 'string') {
    element(name, { [wrapped]: value.items }, out);
    return;
  }
  let open = `<${name}`;
  const at = out.length;
  out.push('');
  for (const key in value) {
    const v = value[key];
    if (key.charCodeAt(0) === 64 /* @ */) {
      const text = scalar(v);
      if (text !== null) open += ` ${key.slice(1)}="${escapeText(text)}"`;
      continue;
    }
    const bar = key.indexOf('|');
    element(bar < 0 ? key : key.slice(0, bar), v, out);
  }
  if (out.length === at + 1) {
    out.pop();
    out.push(`${open}/>`);
  } else {
    out[at] = `${open}>`;
    out.push(`</${name}>`);
  }
}

/** `<name ...>...</name>` for one Node. */
export function writeElement(name: string, node: Record<string, unknown>): string {
  const out: string[] = [];
  element(name, node, out);
  return out.join('');
}
