/**
 * Configuration of the `graph` connector (Microsoft Entra ID through Microsoft Graph v1.0).
 * The app registration needs the application permissions `User.Read.All` and
 * `GroupMember.Read.All` (or `Directory.Read.All`), granted with admin consent.
 */
import { z } from 'zod';
import { secretRefSchema } from '../../config/secrets.js';

const clientSecretAuthSchema = z
  .object({
    type: z.literal('clientSecret'),
    /** The client secret VALUE (not its id), as `{ env }` or `{ file }`. */
    clientSecret: secretRefSchema,
  })
  .strict();

const certificateAuthSchema = z
  .object({
    type: z.literal('certificate'),
    /** PEM holding the certificate and its (unencrypted) private key, as `{ env }` or `{ file }`. */
    certificate: secretRefSchema,
    /** Send the x5c chain with the assertion (needed for subject-name/issuer auto-rollover setups). */
    sendCertificateChain: z.boolean().default(false),
  })
  .strict();

export const graphConfigSchema = z.object({
  kind: z.literal('graph'),
  /** Directory (tenant) id: a GUID, or a verified domain such as `contoso.onmicrosoft.com`. */
  tenantId: z.string().min(1),
  /** Application (client) id of the app registration. */
  clientId: z.string().min(1),
  /** How the app proves its identity: a client secret or a certificate. */
  auth: z.discriminatedUnion('type', [clientSecretAuthSchema, certificateAuthSchema]),
  /**
   * Microsoft identity platform host. National clouds: `https://login.microsoftonline.us`
   * (US Gov), `https://login.chinacloudapi.cn` (21Vianet). Must be https.
   */
  authorityHost: z.url({ protocol: /^https$/ }).default('https://login.microsoftonline.com'),
  /**
   * Graph endpoint without version. National clouds: `https://graph.microsoft.us`,
   * `https://dod-graph.microsoft.us`, `https://microsoftgraph.chinacloudapi.cn`. Must be https.
   */
  graphBaseUrl: z.url({ protocol: /^https$/ }).default('https://graph.microsoft.com'),
  /** Extra trust for a private or emulated endpoint (added to the public CAs, never replacing checks). */
  tls: z
    .object({
      /** PEM file with one or more CA certificates to trust in addition to the system's. */
      caFile: z.string().min(1),
    })
    .strict()
    .optional(),
  /** `$top` for users, groups and member lists (Graph allows 1–999). */
  pageSize: z.number().int().min(1).max(999).default(999),
  /** Member-list requests packed into one `$batch` call (Graph allows at most 20). */
  batchSize: z.number().int().min(1).max(20).default(20),
  /**
   * `$batch` calls in flight at once when member lists start being read. The reader then adapts:
   * one more after each unthrottled batch up to `maxConcurrency`, half as many after a throttled
   * answer (Graph documents no concurrency cap for directory reads, only the resource-unit budget
   * per 10 s, which `requestBudget` keeps).
   */
  concurrency: z.number().int().min(1).max(32).default(4),
  /** Upper bound of the adaptive `$batch` concurrency (see `concurrency`). */
  maxConcurrency: z.number().int().min(1).max(64).default(16),
  /**
   * Requests this tenant may receive per window, shared by every source of the same tenant and app
   * in this process. Each request inside a `$batch` counts, as Graph counts them. Entra ID allows
   * 3,500 / 5,000 / 8,000 resource units per 10 s to an app in a small / medium / large tenant.
   */
  requestBudget: z
    .object({
      requests: z.number().int().min(1).default(3000),
      perSeconds: z.number().min(0.1).default(10),
    })
    .strict()
    .default({ requests: 3000, perSeconds: 10 }),
  /** Retries of one request after 429/5xx/timeouts/resets (auth errors are never retried). */
  maxRetries: z.number().int().min(0).max(20).default(6),
  /** Longest wait for one HTTP response, in milliseconds. */
  requestTimeoutMs: z.number().int().min(100).default(60_000),
});

export type GraphConfig = z.infer<typeof graphConfigSchema>;
