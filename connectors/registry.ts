/** Every connector Dirsync ships, by kind. Config validation and the pipeline look kinds up here. */
import { fileConnector } from './file/index.js';
import { googleConnector } from './google/index.js';
import { graphConnector } from './graph/index.js';
import { keycloakConnector } from './keycloak/index.js';
import { oktaConnector } from './okta/index.js';
import type { Connector } from './types.js';

export const CONNECTORS: readonly Connector[] = [
  fileConnector as unknown as Connector,
  googleConnector as unknown as Connector,
  graphConnector as unknown as Connector,
  keycloakConnector as unknown as Connector,
  oktaConnector as unknown as Connector,
];

export function connectorFor(kind: string): Connector {
  const c = CONNECTORS.find((x) => x.kind === kind);
  if (!c) throw new Error(`no connector of kind "${kind}"`);
  return c;
}
