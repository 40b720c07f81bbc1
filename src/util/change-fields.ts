/**
 * What a change did to an object, field by field, for people. The change log stores `before` and
 * `after` as the pipeline computed them: for an update, only the top-level keys that differ; for a
 * deactivation of a user who left the IdP, the whole record before and just `{active, missing}`
 * after. Shown naively, the first prints whole attribute objects on one line and the second reads
 * as every field wiped to null. This lists only what really changed, nested keys by dotted path.
 */

/** One changed field: `attributes.title`, `"Engineer"` → `"Manager"`. Absent values are `undefined`. */
export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Flattens nested objects to dotted paths; arrays and scalars are leaves. */
function flatten(o: Obj, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (isObj(v) && Object.keys(v).length > 0) flatten(v, path, out);
    else out.set(path, v);
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The fields an operation changed. Creates and deletes have no field list (the object appears or
 * goes as a whole). A key missing from `after` is a removal only for plain updates and only when
 * the update carried that top-level key; a deactivation's partial `after` leaves other fields as
 * they were.
 */
export function changedFields(
  operation: string,
  before: Obj | null | undefined,
  after: Obj | null | undefined,
): FieldChange[] {
  if (!before || !after) return [];
  const b = flatten(before);
  const a = flatten(after);
  const topAfter = new Set(Object.keys(after));
  const out: FieldChange[] = [];
  for (const field of new Set([...b.keys(), ...a.keys()])) {
    const top = field.split('.')[0] as string;
    const inAfter = a.has(field);
    // Only `update` rows describe both sides completely for the keys they carry.
    if (!inAfter && !(operation === 'update' && topAfter.has(top))) continue;
    const bv = b.get(field);
    const av = a.get(field);
    if (same(bv, av)) continue;
    out.push({ field, before: bv, after: av });
  }
  return out;
}

/** A value as one short line: strings quoted, absent as `(none)`, long values cut. */
export function showValue(v: unknown, max = 60): string {
  if (v === undefined || v === null) return '(none)';
  const s = JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
