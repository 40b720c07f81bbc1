/** Every connector Dirsync ships, by kind. Config validation and the pipeline look kinds up here. */
import { fileConnector } from './file/index.js';
import type { Connector } from './types.js';

export const CONNECTORS: readonly Connector[] = [fileConnector as unknown as Connector];

export function connectorFor(kind: string): Connector {
  const c = CONNECTORS.find((x) => x.kind === kind);
  if (!c) throw new Error(`no connector of kind "${kind}"`);
  return c;
}
