/**
 * Text Postgres can store, and text that was already damaged before it reached us.
 *
 * Postgres `text` and `jsonb` cannot hold U+0000 (COPY fails the whole snapshot with "invalid byte
 * sequence for encoding UTF8: 0x00"). A lone surrogate is silently turned into U+FFFD when Node
 * encodes it, and U+FFFD itself is what a decoder leaves where the IdP (or a file) sent invalid
 * UTF-8. Storing either would change a name behind everyone's back, so such a record is held with a
 * problem instead, and the rest of the snapshot applies.
 */

/** Why `s` cannot be stored as it is, or null when it can. */
export function textFault(s: string): string | null {
  // Without the `u` flag the regexp sees UTF-16 code units: a high surrogate not followed by a low
  // one, or a low one not preceded by a high one, is lone.
  const m =
    // eslint-disable-next-line no-control-regex -- finding U+0000 is the point
    /\u0000|\uFFFD/.exec(s) ??
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(s);
  if (!m) return null;
  if (m[0] === '\u0000') return 'holds a NUL character (U+0000), which Postgres cannot store';
  if (m[0] === '\uFFFD')
    return 'holds U+FFFD, the replacement character left where invalid UTF-8 was decoded';
  return 'holds a lone UTF-16 surrogate (invalid Unicode)';
}

/**
 * The first field of a record (a plain JSON value, searched depth first, keys included) whose text
 * cannot be stored, as "field: reason"; null when every string is fine.
 */
export function recordTextFault(fields: Record<string, unknown>): string | null {
  const visit = (v: unknown, path: string): string | null => {
    if (typeof v === 'string') {
      const f = textFault(v);
      return f === null ? null : `${path} ${f}`;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const f = visit(v[i], `${path}[${i}]`);
        if (f) return f;
      }
      return null;
    }
    if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const kf = textFault(k);
        if (kf) return `a key of ${path} ${kf}`;
        const f = visit(x, `${path}.${k}`);
        if (f) return f;
      }
    }
    return null;
  };
  for (const [k, v] of Object.entries(fields)) {
    const f = visit(v, k);
    if (f) return f;
  }
  return null;
}

/** `s` with NUL shown as ␀ and damaged code units as U+FFFD: safe to store in a report. */
export function reportableText(s: string): string {
  // eslint-disable-next-line no-control-regex -- finding U+0000 is the point
  return s.replace(/\u0000/g, '\u2400').replace(/[\uD800-\uDFFF]/g, (c, i: number, all: string) => {
    const code = c.charCodeAt(0);
    if (code <= 0xdbff) {
      const next = all.charCodeAt(i + 1);
      return next >= 0xdc00 && next <= 0xdfff ? c : '\uFFFD';
    }
    const prev = all.charCodeAt(i - 1);
    return prev >= 0xd800 && prev <= 0xdbff ? c : '\uFFFD';
  });
}

/** JSON text of `v` with every string (and key) made reportable. */
export function reportableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'string') return reportableText(x);
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) {
      const out: Record<string, unknown> = {};
      for (const [k, y] of Object.entries(x)) out[reportableText(k)] = y;
      return out;
    }
    return x;
  });
}
