/**
 * Run rows whose owner is gone (see src/pipeline/reap.ts, where the logic lives so that every
 * process that runs a connector — the CLI too — reaps, not only workers).
 */
export { reapAbandonedRuns, supersedeHeldRuns, type ReapedRun } from '../src/pipeline/reap.js';
