/**
 * A directory over a {@link MemoryIdp} for the pipeline's incremental tests: a generated org, and
 * its connector entry with the removal limits out of the way (only what a test is about may hold a
 * run).
 */
import { parseConnectorConfig } from '../../config/load.js';
import type { ConnectorConfig } from '../../config/schema.js';
import { generateOrg, type OrgOptions } from '../../connectors/emulator-kit/org.js';
import type { Connector } from '../../connectors/types.js';
import { OPEN_GUARD } from './equivalence.js';
import { MemoryIdp, memoryConnector } from './memory-idp.js';

export interface MemoryDirectory {
  /** The connector name. */
  name: string;
  idp: MemoryIdp;
  /** The connector entry: `settings`, then `more` over them. */
  config(more?: Record<string, unknown>): ConnectorConfig;
}

/** A fresh memory IdP with `org`, named after `name` (unique per call), and its connector entry. */
export function memoryDirectory(
  name: string,
  org: OrgOptions,
  settings: Record<string, unknown> = {},
): MemoryDirectory {
  const idp = new MemoryIdp(`${name}-${Math.random()}`, generateOrg(org));
  const config = (more: Record<string, unknown> = {}): ConnectorConfig =>
    parseConnectorConfig(
      { name, kind: 'memory', org: idp.name, guard: OPEN_GUARD, ...settings, ...more },
      memoryConnector as unknown as Connector,
    );
  return { name, idp, config };
}
