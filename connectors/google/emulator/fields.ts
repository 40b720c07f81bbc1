/**
 * Partial responses (`fields=`): parse the selector and apply it to a response object.
 * Syntax: comma-separated paths, `a/b` for a sub-field, `a(b,c)` for several, `*` for all.
 * https://developers.google.com/workspace/admin/directory/v1/guides/performance#partial
 *
 * Like Google, a selector naming a property the resource does not have is a 400, so a typo in a
 * client's `fields` fails loudly instead of silently dropping data.
 */

export type FieldTree = Map<string, FieldTree | true>;

export class FieldsError extends Error {}

export function parseFields(input: string): FieldTree {
  let i = 0;
  const fail = (): never => {
    throw new FieldsError(`Invalid field selection ${input}`);
  };
  const parseItem = (): [string, FieldTree | true] => {
    const start = i;
    while (i < input.length && !',()/'.includes(input[i] as string)) i++;
    const name = input.slice(start, i).trim();
    if (name === '') fail();
    if (input[i] === '/') {
      i++;
      const [child, node] = parseItem();
      return [name, new Map([[child, node]])];
    }
    if (input[i] === '(') {
      i++;
      const node = parseList();
      if (input[i] !== ')') fail();
      i++;
      return [name, node];
    }
    return [name, true];
  };
  const parseList = (): FieldTree => {
    const tree: FieldTree = new Map();
    for (;;) {
      const [name, node] = parseItem();
      merge(tree, name, node);
      if (input[i] !== ',') return tree;
      i++;
    }
  };
  const tree = parseList();
  if (i !== input.length) fail();
  return tree;
}

function merge(tree: FieldTree, name: string, node: FieldTree | true): void {
  const prev = tree.get(name);
  if (prev === undefined || node === true || prev === true) {
    tree.set(name, prev === true || node === true ? true : node);
    return;
  }
  for (const [k, v] of node) merge(prev, k, v);
}

/** Known property names per schema, and the schema of nested objects (null = leaf or `any`). */
export type SchemaProps = Record<string, Record<string, string | null>>;

/** Throws FieldsError when the selector names a property `schema` does not have. */
export function checkFields(tree: FieldTree, schema: string, schemas: SchemaProps): void {
  const props = schemas[schema];
  if (!props) return; // `any`-typed values: anything goes
  for (const [name, node] of tree) {
    if (name === '*') continue;
    if (!(name in props)) throw new FieldsError(`Invalid field selection ${name}`);
    const nested = props[name];
    if (node !== true && nested) checkFields(node, nested, schemas);
  }
}

export function applyFields(value: unknown, tree: FieldTree): unknown {
  if (Array.isArray(value)) return value.map((v) => applyFields(v, tree));
  if (typeof value !== 'object' || value === null) return value;
  const src = value as Record<string, unknown>;
  if (tree.has('*')) {
    const all = tree.get('*');
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(src)) out[k] = all === true ? v : applyFields(v, all as FieldTree);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [name, node] of tree) {
    const v = src[name];
    if (v === undefined) continue;
    out[name] = node === true ? v : applyFields(v, node);
  }
  return out;
}
