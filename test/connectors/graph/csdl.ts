/**
 * Reads the official Graph v1.0 CSDL ($metadata) and checks JSON objects against its entity types:
 * every property must exist on the type (with inheritance) and have the declared type.
 */
import { specPath } from '../../helpers/specs.js';
import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';

export const CSDL_PATH = specPath('graph/cleanMetadata.xml');

interface PropDef {
  type: string;
  nullable: boolean;
}

interface TypeDef {
  baseType: string | null;
  props: Map<string, PropDef>;
  navs: Map<string, string>;
  kind: 'entity' | 'complex';
}

export interface Csdl {
  types: Map<string, TypeDef>;
  enums: Set<string>;
}

type Raw = Record<string, unknown>;
const arr = (x: unknown): Raw[] => (Array.isArray(x) ? (x as Raw[]) : x === undefined ? [] : [x as Raw]);

export function loadCsdl(path = CSDL_PATH): Csdl {
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });
  const doc = parser.parse(text) as Raw;
  const schemas = arr(((doc['edmx:Edmx'] as Raw)['edmx:DataServices'] as Raw).Schema);
  const schema = schemas.find((s) => s.Namespace === 'microsoft.graph');
  if (!schema) throw new Error('no microsoft.graph schema in the CSDL');
  const types = new Map<string, TypeDef>();
  const norm = (t: string) => t.replace(/\bgraph\./g, 'microsoft.graph.');
  for (const [tag, kind] of [
    ['EntityType', 'entity'],
    ['ComplexType', 'complex'],
  ] as const) {
    for (const t of arr(schema[tag])) {
      const props = new Map<string, PropDef>();
      for (const p of arr(t.Property))
        props.set(String(p.Name), { type: norm(String(p.Type)), nullable: p.Nullable !== 'false' });
      const navs = new Map<string, string>();
      for (const n of arr(t.NavigationProperty)) navs.set(String(n.Name), norm(String(n.Type)));
      types.set(`microsoft.graph.${String(t.Name)}`, {
        baseType: t.BaseType ? norm(String(t.BaseType)) : null,
        props,
        navs,
        kind,
      });
    }
  }
  const enums = new Set(arr(schema.EnumType).map((e) => `microsoft.graph.${String(e.Name)}`));
  return { types, enums };
}

function lookup(
  csdl: Csdl,
  type: string,
  name: string,
  what: 'props' | 'navs',
): PropDef | string | undefined {
  for (let t: string | null = type; t !== null;) {
    const def = csdl.types.get(t);
    if (!def) return undefined;
    const hit = def[what].get(name);
    if (hit !== undefined) return hit;
    t = def.baseType;
  }
  return undefined;
}

export function isA(csdl: Csdl, type: string, ancestor: string): boolean {
  for (let t: string | null = type; t !== null; t = csdl.types.get(t)?.baseType ?? null)
    if (t === ancestor) return true;
  return false;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function checkValue(csdl: Csdl, type: string, v: unknown, path: string, errors: string[]): void {
  const coll = /^Collection\((.+)\)$/.exec(type);
  if (coll) {
    if (!Array.isArray(v)) return void errors.push(`${path}: expected an array for ${type}`);
    v.forEach((x, i) => checkValue(csdl, coll[1] as string, x, `${path}[${i}]`, errors));
    return;
  }
  const ok = (() => {
    switch (type) {
      case 'Edm.String':
        return typeof v === 'string';
      case 'Edm.Boolean':
        return typeof v === 'boolean';
      case 'Edm.DateTimeOffset':
        return typeof v === 'string' && ISO.test(v);
      case 'Edm.Guid':
        return typeof v === 'string' && /^[0-9a-f-]{36}$/i.test(v);
      case 'Edm.Int32':
      case 'Edm.Int64':
      case 'Edm.Double':
        return typeof v === 'number';
      default:
        if (csdl.enums.has(type)) return typeof v === 'string';
        if (csdl.types.get(type)?.kind === 'complex')
          return typeof v === 'object' && v !== null && !Array.isArray(v);
        return false;
    }
  })();
  if (!ok) errors.push(`${path}: ${JSON.stringify(v)} is not a ${type}`);
}

/**
 * Checks one object against an entity type; `@odata.type` (when present) must name the type or a
 * subtype. Returns the problems found (empty when the object conforms).
 */
export function validateEntity(
  csdl: Csdl,
  type: string,
  obj: Record<string, unknown>,
  path = type,
): string[] {
  const errors: string[] = [];
  if (!csdl.types.has(type)) return [`${type} is not in the CSDL`];
  for (const [key, v] of Object.entries(obj)) {
    if (key === '@odata.type') {
      const named = typeof v === 'string' ? v.replace(/^#/, '') : '';
      if (!isA(csdl, named, type)) errors.push(`${path}: @odata.type ${String(v)} is not a ${type}`);
      continue;
    }
    if (key.startsWith('@odata.') || key === '@removed') continue;
    const deltaNav = /^(.+)@delta$/.exec(key);
    if (deltaNav) {
      if (lookup(csdl, type, deltaNav[1] as string, 'navs') === undefined)
        errors.push(`${path}: no navigation ${key}`);
      continue;
    }
    const prop = lookup(csdl, type, key, 'props');
    if (prop !== undefined && typeof prop !== 'string') {
      if (v === null) {
        if (!prop.nullable) errors.push(`${path}.${key}: null but Nullable=false`);
      } else checkValue(csdl, prop.type, v, `${path}.${key}`, errors);
      continue;
    }
    const nav = lookup(csdl, type, key, 'navs');
    if (typeof nav === 'string') {
      const target = /^Collection\((.+)\)$/.exec(nav)?.[1] ?? nav;
      const items = Array.isArray(v) ? v : [v];
      items.forEach((x, i) => {
        const o = x as Record<string, unknown>;
        const t = typeof o['@odata.type'] === 'string' ? (o['@odata.type'] as string).slice(1) : target;
        errors.push(...validateEntity(csdl, t, o, `${path}.${key}[${i}]`));
      });
      continue;
    }
    errors.push(`${path}: property ${key} does not exist on ${type}`);
  }
  return errors;
}
