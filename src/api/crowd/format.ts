/**
 * Crowd's two wire formats. The Atlassian applications' own client (RestCrowdClient) speaks XML;
 * other Crowd clients speak JSON. Every entity is built once as a neutral tree (`Node`) and written
 * in either format, so the two can never disagree about a field.
 *
 * Node conventions: keys starting with `@` are XML attributes (plain keys in JSON); arrays are
 * repeated elements in XML and arrays in JSON; a key `xml|json` has a different name in each (Crowd
 * writes `<attribute>` elements but an `attributes` array); `wrap(item, list)` is a wrapper
 * element of repeated items in XML and a plain array in JSON (`<values><value/></values>` vs
 * `"values": [...]`); `null`/`undefined` fields are left out of both.
 */
import { XMLParser } from 'fast-xml-parser';
import { WRAP, writeElement } from './xml.js';

export type Format = 'json' | 'xml';
export type Node = { [key: string]: unknown };

/**
 * JSON when the client asks for it first; otherwise XML, which is what Crowd's REST resources
 * produce by default (and what the Atlassian applications request).
 */
export function negotiate(accept: string | undefined): Format {
  if (!accept) return 'xml';
  const types = accept
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim(), q: q ? Number(q.slice(2)) || 0 : 1, i };
    })
    .filter((t) => t.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const t of types) {
    if (t.type === 'application/json' || t.type.endsWith('+json')) return 'json';
    if (t.type === 'application/xml' || t.type === 'text/xml' || t.type.endsWith('+xml')) return 'xml';
  }
  return 'xml';
}

export const CONTENT_TYPE: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
};

/** A list that is `<item>` elements inside a wrapper in XML and an array in JSON. */
export function wrap(item: string, items: unknown[]): Node {
  return { [WRAP]: item, items };
}

/** `<name ...>...</name>` for one element. */
export function xmlElement(name: string, node: Node): string {
  return writeElement(name, node);
}

/** The five predefined entities and the characters XML cannot carry (see ./xml.ts). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const REFERENCED = /[&<>"'\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
// eslint-disable-next-line no-control-regex -- as above
const REFERENCED_ALL = /[&<>"'\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;
const reference = (c: string) => ('&<>"\''.includes(c) ? `&#${c.charCodeAt(0)};` : '\uFFFD');

/**
 * Text escaped for an XML attribute value or element content, as character references (the
 * membership document's names; the hot path of the biggest document). Most names need none.
 * Characters XML cannot carry become U+FFFD, as in ./xml.ts.
 */
export function escapeXml(s: string): string {
  return REFERENCED.test(s) ? s.replace(REFERENCED_ALL, reference) : s;
}

export const XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';

/** A whole XML document with one root element. */
export function xmlDocument(root: string, node: Node): string {
  return XML_DECL + xmlElement(root, node);
}

/** The JSON form of a Node: `@` prefixes dropped, Dates as epoch milliseconds (as Crowd's JSON). */
export function toJson(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return v.getTime();
  if (Array.isArray(v)) return v.map(toJson).filter((x) => x !== undefined);
  if (typeof v === 'object') {
    const n = v as Node;
    if (typeof n[WRAP] === 'string') return toJson(n.items);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(n)) {
      const t = toJson(x);
      const key = k.includes('|') ? (k.split('|')[1] as string) : k;
      if (t !== undefined) out[key.startsWith('@') ? key.slice(1) : key] = t;
    }
    return out;
  }
  return v;
}

/** One document in the requested format. */
export function render(format: Format, root: string, node: Node): string {
  return format === 'xml' ? xmlDocument(root, node) : JSON.stringify(toJson(node));
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

/**
 * Parses a request body. A DOCTYPE is refused outright: no request the applications send has one,
 * and refusing it rules out entity-expansion tricks whatever the parser's limits are.
 */
export function parseXml(text: string): Node {
  if (/<!DOCTYPE/i.test(text)) throw new SyntaxError('a DOCTYPE is not allowed in a request body');
  return parser.parse(text, true) as Node;
}
