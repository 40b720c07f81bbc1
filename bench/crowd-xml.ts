/**
 * `node --import tsx bench/crowd-xml.ts`: writing Crowd user entities as XML, three ways, on the
 * same 1,000 rows (what one page of a full synchronisation renders):
 *
 * - fast-xml-parser's XMLBuilder, as the Crowd API used it (the Node copied into the builder's shape);
 * - the API's own writer (src/api/crowd/xml.ts), generic over Nodes;
 * - a writer specialised for the user entity (template strings, no Node), the next step had the
 *   generic writer still been too slow.
 *
 * Prints the median of 15 rounds per way, without and with attributes, and checks that all three
 * write the same bytes. CPU-bound: on a loaded machine the absolute times grow, the ratios much less.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { userEntity, type UserRow } from '../src/api/crowd/entities.js';
import { xmlElement, type Node } from '../src/api/crowd/format.js';
import { escapeText, WRAP } from '../src/api/crowd/xml.js';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
});

/** The builder's input shape, as the API made it before its own writer. */
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

const q = encodeURIComponent;
const field = (name: string, v: string) => (v === '' ? `<${name}/>` : `<${name}>${escapeText(v)}</${name}>`);

/** The user entity without attributes, written directly. */
function userXml(base: string, u: UserRow): string {
  const self = escapeText(`${base}/user?username=${q(u.username)}`);
  const password = escapeText(`${base}/user/password?username=${q(u.username)}`);
  return (
    `<user name="${escapeText(u.username)}" expand="attributes"><link rel="self" href="${self}"/>` +
    field('first-name', u.given_name ?? '') +
    field('last-name', u.family_name ?? '') +
    field('display-name', u.display_name ?? u.username) +
    field('email', u.email ?? '') +
    `<password><link rel="edit" href="${password}"/></password>` +
    field('key', `${u.connector}:${u.external_id}`) +
    `<active>${u.active}</active><created-date>${u.created_at.toISOString()}</created-date>` +
    `<updated-date>${u.updated_at.toISOString()}</updated-date></user>`
  );
}

const base = 'https://dirsync.example.com/rest/usermanagement/1';
const rows: UserRow[] = Array.from({ length: 1000 }, (_, i) => ({
  connector: 'bench',
  external_id: `00u${i.toString(36).padStart(8, '0')}`,
  username: `first.last${i}@example.com`,
  email: `first.last${i}@example.com`,
  display_name: `First Last ${i}`,
  given_name: 'First',
  family_name: `Last ${i}`,
  active: i % 10 !== 0,
  attributes: { department: 'Engineering & Ops', title: 'Developer', costCenter: [`cc-${i % 7}`] },
  created_at: new Date(1_700_000_000_000 + i),
  updated_at: new Date(1_710_000_000_000 + i),
}));

function median(fn: () => string): { ms: number; out: string } {
  const times: number[] = [];
  let out = '';
  for (let round = 0; round < 15; round++) {
    const t = performance.now();
    out = fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[7] as number, out };
}

for (const attributes of [false, true]) {
  const lib = median(() =>
    rows.map((r) => builder.build({ user: builderTree(userEntity(base, r, attributes)) }) as string).join(''),
  );
  const own = median(() => rows.map((r) => xmlElement('user', userEntity(base, r, attributes))).join(''));
  const line = [
    `1,000 users ${attributes ? 'with' : 'without'} attributes: fast-xml-parser ${lib.ms.toFixed(1)} ms`,
    `own writer ${own.ms.toFixed(1)} ms (${(lib.ms / own.ms).toFixed(1)}x)`,
  ];
  if (own.out !== lib.out) throw new Error('the writers disagree');
  if (!attributes) {
    const special = median(() => rows.map((r) => userXml(base, r)).join(''));
    if (special.out !== own.out) throw new Error('the specialised writer disagrees');
    line.push(`specialised ${special.ms.toFixed(1)} ms`);
  }
  console.log(line.join(', '));
}
