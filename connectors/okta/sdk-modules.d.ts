/**
 * Types for the two modules of `@okta/okta-sdk-nodejs` the connector loads directly (client.ts
 * says why not the package's index). The SDK ships their declarations under `src/types/`; the
 * package has no `exports` map, so these paths are its public files as published.
 */
declare module '@okta/okta-sdk-nodejs/src/http.js' {
  export { Http } from '@okta/okta-sdk-nodejs/src/types/http.js';
}

declare module '@okta/okta-sdk-nodejs/src/request-executor.js' {
  import { RequestExecutor } from '@okta/okta-sdk-nodejs/src/types/request-executor.js';
  export = RequestExecutor;
}
