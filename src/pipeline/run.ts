/**
 * One sync run, top to bottom in the order its steps happen:
 * plan the read (mode.ts) → read and stage the snapshot (read.ts: full read, change feed over the
 * mirror, or the mirror alone) → evaluate it (evaluate.ts: the unchanged fast path, or check →
 * diff → guard) → settle (settle.ts: apply, hold, dry run) → one summary (context.ts).
 */
import { RunContext, type RunSummary, type RunSyncOptions } from './context.js';
import { evaluate } from './evaluate.js';
import { planRead } from './mode.js';
import { readSnapshot } from './read.js';
import { settle } from './settle.js';

export {
  classifyRunError,
  type ReadMode,
  type RunError,
  type RunProgress,
  type RunSummary,
  type RunSyncOptions,
} from './context.js';

export async function runSync(opts: RunSyncOptions): Promise<RunSummary> {
  const ctx = await RunContext.start(opts);
  try {
    const plan = await planRead(ctx);
    const read = await readSnapshot(ctx, plan);
    const evaluation = await evaluate(ctx, read);
    const end = await settle(ctx, read, evaluation);
    return await ctx.succeed(end);
  } catch (e) {
    throw await ctx.fail(e);
  } finally {
    await ctx.close();
  }
}
