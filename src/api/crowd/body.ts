/**
 * POST /search bodies: Crowd's SearchRestrictionEntity in XML (root element
 * `property-search-restriction`, `boolean-search-restriction` with a `boolean-logic` attribute and a
 * `restrictions` wrapper, or `null-search-restriction`) or JSON (the same, tagged by
 * `restriction-type`).
 */
import { CrowdError } from './errors.js';
import { parseXml, type Node } from './format.js';
import { MATCH_MODES, type MatchMode, type Restriction } from './restriction.js';

const KINDS = ['property-search-restriction', 'boolean-search-restriction', 'null-search-restriction'];

function bad(msg: string): never {
  throw new CrowdError('ILLEGAL_ARGUMENT', `invalid search restriction: ${msg}`);
}

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object' && '#text' in (v as Node)) return text((v as Node)['#text']);
  if (typeof v === 'object' && Object.keys(v as Node).length === 0) return '';
  return bad('a value must be text');
}

function asObject(v: unknown, what: string): Node {
  if (v === '' || v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) bad(`${what} must be an element/object`);
  return v as Node;
}

function fromNode(kind: string, raw: unknown, depth: number): Restriction {
  if (depth > 32) bad('nested too deeply');
  const n = asObject(raw, kind);
  if (kind === 'null-search-restriction') return { kind: 'all' };
  if (kind === 'property-search-restriction') {
    const prop = asObject(n.property, 'property');
    const name = text(prop.name);
    if (!name) bad('a property restriction needs property.name');
    const mode = text(n['match-mode'])?.toUpperCase();
    if (!mode || !MATCH_MODES.includes(mode as MatchMode)) {
      bad(`match-mode must be one of ${MATCH_MODES.join(', ')}`);
    }
    const value = text(n.value ?? prop.value);
    if (mode !== 'NULL' && value === null) bad(`${mode} on ${name} needs a value`);
    return {
      kind: 'property',
      property: name,
      mode: mode as MatchMode,
      value: mode === 'NULL' ? null : value,
    };
  }
  if (kind === 'boolean-search-restriction') {
    const logic = text(n['@boolean-logic'] ?? n['boolean-logic'])?.toUpperCase();
    if (logic !== 'AND' && logic !== 'OR') bad('boolean-logic must be "and" or "or"');
    const inner = n.restrictions;
    const restrictions: Restriction[] = [];
    if (Array.isArray(inner)) {
      // JSON: a list of tagged restrictions.
      for (const r of inner) restrictions.push(fromJson(r, depth + 1));
    } else if (inner !== undefined && inner !== '') {
      // XML: a wrapper element whose children are the restrictions, by element name.
      for (const [k, v] of Object.entries(asObject(inner, 'restrictions'))) {
        if (!KINDS.includes(k)) bad(`unknown restriction <${k}>`);
        for (const one of Array.isArray(v) ? v : [v]) restrictions.push(fromNode(k, one, depth + 1));
      }
    }
    return { kind: 'boolean', logic, restrictions };
  }
  return bad(`unknown restriction type "${kind}"`);
}

function fromJson(raw: unknown, depth: number): Restriction {
  const n = asObject(raw, 'restriction');
  const kind = text(n['restriction-type']);
  if (!kind) bad('a JSON restriction needs "restriction-type"');
  return fromNode(kind, n, depth);
}

/** A search body, by its content type. An empty body is the null restriction (everything). */
export function parseSearchBody(body: unknown, contentType: string | undefined): Restriction {
  if (body === undefined || body === null || body === '') return { kind: 'all' };
  const ct = (contentType ?? '').toLowerCase();
  if (ct.includes('json')) {
    if (typeof body === 'string') {
      try {
        return fromJson(JSON.parse(body), 0);
      } catch (e) {
        if (e instanceof CrowdError) throw e;
        bad('the body is not valid JSON');
      }
    }
    return fromJson(body, 0);
  }
  if (typeof body !== 'string') bad('send the restriction as application/xml or application/json');
  let doc: Node;
  try {
    doc = parseXml(body);
  } catch (e) {
    bad(`the body is not well-formed XML (${(e as Error).message})`);
  }
  const roots = Object.keys(doc).filter((k) => k !== '?xml');
  if (roots.length !== 1) bad('the body must have one root element');
  const root = roots[0] as string;
  if (root === 'search-restriction') bad('use the concrete element, e.g. <property-search-restriction>');
  return fromNode(root, doc[root], 0);
}
