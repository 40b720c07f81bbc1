/**
 * Group nesting the directory can hold: acyclic, and at most {@link MAX_NESTING_DEPTH} edges from a
 * top group to the deepest group below it. The closure (apply.ts), effective membership
 * (`dirsync.effective_group_members`) and the group filter all follow nesting; a limit enforced in
 * one of them only (the closure used to stop at 64 levels while the filter went on) makes them
 * disagree, so check.ts holds every edge that closes a cycle or nests deeper, before any of them
 * runs, and reports it.
 *
 * Computed in memory over the group-to-group edges only (tens of thousands, not the user edges), in
 * time linear in their number: Tarjan's strongly connected components (an edge inside one closes a
 * cycle), then longest-path levels in topological order. A recursive SQL closure for the same
 * answer is quadratic in the depth (a 10,000-deep chain took minutes).
 */

/** The most nesting levels (edges from a top group down) the directory holds. */
export const MAX_NESTING_DEPTH = 64;

export interface NestEdge {
  parent: string;
  child: string;
}

export interface HeldNestEdge extends NestEdge {
  why: 'cycle' | 'depth';
}

/** The edges to hold so that what remains is acyclic and at most `maxDepth` levels deep. */
export function nestingToHold(edges: readonly NestEdge[], maxDepth = MAX_NESTING_DEPTH): HeldNestEdge[] {
  // Dense ids and adjacency lists.
  const index = new Map<string, number>();
  const idOf = (g: string) => {
    let i = index.get(g);
    if (i === undefined) {
      i = index.size;
      index.set(g, i);
    }
    return i;
  };
  const from = edges.map((e) => idOf(e.parent));
  const to = edges.map((e) => idOf(e.child));
  const n = index.size;
  const out: number[][] = Array.from({ length: n }, () => []);
  for (let e = 0; e < edges.length; e++) out[from[e]!]!.push(e);

  // Tarjan's SCC, iterative (a 10,000-deep chain would overflow the call stack).
  const order = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const comp = new Int32Array(n).fill(-1);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  let counter = 0;
  let comps = 0;
  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    const call: [number, number][] = [[root, 0]];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (call.length > 0) {
      const frame = call[call.length - 1]!;
      const v = frame[0];
      const adj = out[v]!;
      if (frame[1] < adj.length) {
        const w = to[adj[frame[1]++]!]!;
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          call.push([w, 0]);
        } else if (onStack[w]) low[v] = Math.min(low[v]!, order[w]!);
        continue;
      }
      call.pop();
      if (call.length > 0) {
        const p = call[call.length - 1]![0];
        low[p] = Math.min(low[p]!, low[v]!);
      }
      if (low[v] === order[v]) {
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          comp[w] = comps;
        } while (w !== v);
        comps++;
      }
    }
  }

  const held: HeldNestEdge[] = [];
  const kept: number[] = [];
  for (let e = 0; e < edges.length; e++) {
    if (comp[from[e]!] === comp[to[e]!]) held.push({ ...edges[e]!, why: 'cycle' });
    else kept.push(e);
  }

  // Longest-path levels over the remaining (acyclic) edges, in Kahn's topological order. An edge
  // from a group already at the deepest level is held; its child then counts from its other parents.
  const indegree = new Int32Array(n);
  const keptOut: number[][] = Array.from({ length: n }, () => []);
  for (const e of kept) {
    indegree[to[e]!]!++;
    keptOut[from[e]!]!.push(e);
  }
  const level = new Int32Array(n);
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (indegree[v] === 0) queue.push(v);
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!;
    for (const e of keptOut[v]!) {
      const w = to[e]!;
      if (level[v]! >= maxDepth) held.push({ ...edges[e]!, why: 'depth' });
      else level[w] = Math.max(level[w]!, level[v]! + 1);
      if (--indegree[w]! === 0) queue.push(w);
    }
  }
  return held;
}
