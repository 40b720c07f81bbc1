/**
 * The XML writer (src/api/crowd/xml.ts) against the library it replaced: fast-xml-parser's
 * XMLBuilder with the options the Crowd API used, fed the same trees. Generated trees cover every
 * Node convention (attributes, `xml|json` keys, wrapper lists, arrays, nulls, dates, booleans,
 * numbers, empty strings and empty elements) and text with every character XML escapes; the
 * entity builders are checked on rows with such text too. The one intended difference, characters
 * XML cannot carry at all, has its own test.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { groupEntity, groupRef, userEntity, userRef } from '../../../src/api/crowd/entities.js';
import { escapeXml, wrap, xmlElement, type Node } from '../../../src/api/crowd/format.js';
import { WRAP } from '../../../src/api/crowd/xml.js';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
});

/** The tree the builder was given: nulls dropped, dates as ISO text, wrappers and `a|b` keys resolved. */
function builderTree(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(builderTree).filter((x) => x !== undefined);
  if (typeof v === 'object') {
    const n = v as Node;
    if (typeof n[WRAP] === 'string') return { [n[WRAP] as string]: builderTree(n.items) };
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(n)) {
      const t = builderTree(x);
      if (t !== undefined) out[k.split('|')[0] as string] = t;
    }
    return out;
  }
  return v;
}

const oracle = (name: string, node: Node) => builder.build({ [name]: builderTree(node) }) as string;

/** A small seeded generator (mulberry32), so a failure is reproducible. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a',
  'Zoë',
  '&',
  '<',
  '>',
  '"',
  "'",
  '&amp;',
  ' ',
  '\n',
  '\t',
  '𝄞',
  '日本',
  '0',
  'x y',
  ']]>',
];
const NAMES = ['name', 'link', 'value', 'email', 'first-name', 'key', 'group', 'user', 'values', 'attribute'];

function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const text = () => {
    let s = '';
    const n = Math.floor(r() * 5);
    for (let i = 0; i < n; i++) s += pick(PIECES);
    return s;
  };
  const scalar = (): unknown => {
    const k = r();
    if (k < 0.45) return text();
    if (k < 0.55) return r() < 0.5;
    if (k < 0.65) return Math.floor(r() * 2000) - 1000;
    if (k < 0.75) return new Date(Math.floor(r() * 2e12));
    if (k < 0.85) return null;
    return '';
  };
  const node = (depth: number): Node => {
    const out: Node = {};
    const n = Math.floor(r() * 6);
    for (let i = 0; i < n; i++) {
      const k = r();
      if (k < 0.3) {
        out[`@${pick(NAMES)}${i}`] = scalar();
        continue;
      }
      const name = r() < 0.15 ? `${pick(NAMES)}${i}|json${i}` : `${pick(NAMES)}${i}`;
      if (depth > 3 || k < 0.55) out[name] = scalar();
      else if (k < 0.7) out[name] = node(depth + 1);
      else if (k < 0.8) out[name] = Array.from({ length: Math.floor(r() * 4) }, () => scalar());
      else if (k < 0.9) out[name] = Array.from({ length: Math.floor(r() * 3) }, () => node(depth + 1));
      else {
        out[name] = wrap(
          pick(NAMES),
          Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.7 ? scalar() : node(depth + 1))),
        );
      }
    }
    return out;
  };
  return node;
}

describe('the XML writer', () => {
  it('writes what fast-xml-parser wrote, for 3,000 generated trees', () => {
    const node = generator(20_240_611);
    let specials = 0;
    for (let i = 0; i < 3000; i++) {
      const tree = node(0);
      const expected = oracle('root', tree);
      if (/&(amp|lt|gt|quot|apos);/.test(expected)) specials++;
      expect(xmlElement('root', tree), JSON.stringify(tree)).toBe(expected);
    }
    // The trees did exercise escaping (and so would have caught a writer that skips it).
    expect(specials).toBeGreaterThan(500);
  });

  it('writes entities as fast-xml-parser did, escaping every special character', () => {
    const base = 'https://crowd.test/rest/usermanagement/1';
    const hostile = `a&b<c>"d'e é 𝄞 &amp; ]]>`;
    const user = {
      connector: `c<&>"'`,
      external_id: 'e"1',
      username: hostile,
      email: null,
      display_name: null,
      given_name: '',
      family_name: 'x\ny\tz',
      active: false,
      attributes: { 'k"&': ['v1', 'v&2', 3, null, { a: '<' }], empty: [], s: hostile, n: null },
      created_at: new Date(0),
      updated_at: new Date(1_234_567_890_123),
    };
    const group = {
      connector: 'hr',
      external_id: 'g1',
      name: hostile,
      description: null,
      local: true,
      attributes: { owners: ['x', hostile] },
      created_at: new Date(1),
      updated_at: new Date(2),
    };
    for (const [name, node] of [
      ['user', userEntity(base, user, true)],
      ['user', userEntity(base, user, false)],
      ['user', userEntity(base, { ...user, display_name: 'D', email: 'e@x' }, true)],
      ['group', groupEntity(base, group, true)],
      ['group', groupEntity(base, { ...group, description: 'Desc & more' }, false)],
      ['user', userRef(base, hostile)],
      ['group', groupRef(base, hostile)],
    ] as const) {
      const written = xmlElement(name, node);
      expect(written).toBe(oracle(name, node));
      expect(written).not.toContain(hostile);
    }
  });

  it('writes characters XML cannot carry as U+FFFD, so one bad name cannot break a document', () => {
    // eslint-disable-next-line no-control-regex -- the characters XML 1.0 forbids
    const forbidden = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
    const bad = 'a\u0001b\u000Bc\u001Fd\uFFFEe\uFFFFf';
    const user = userRef('https://crowd.test/rest/usermanagement/1', bad);
    const written = xmlElement('user', { ...user, 'display-name': `${bad} & \t\n\r ok` });
    expect(written).not.toMatch(forbidden);
    expect(written).toContain('name="a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\uFFFDf"');
    // Tab, newline and carriage return are XML characters: they stay as they were.
    expect(written).toContain(
      '<display-name>a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\uFFFDf &amp; \t\n\r ok</display-name>',
    );
    // The membership document's escaping (character references) does the same.
    expect(escapeXml(`${bad}<&>"'`)).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\uFFFDf&#60;&#38;&#62;&#34;&#39;');
    expect(escapeXml('plain\tname')).toBe('plain\tname');
  });
});
