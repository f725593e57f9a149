import type { Duplex } from "node:stream";

/** Streams each direction of a splice passes through on its way (e.g. shapers); none by default. */
export interface SplicePipes {
  readonly aToB: readonly Duplex[];
  readonly bToA: readonly Duplex[];
}

const NONE: SplicePipes = { aToB: [], bToA: [] };

/**
 * Joins two byte streams into one pipe (an upgraded connection, a raw tunnel stream): data flows
 * both ways with backpressure (pipe), through `pipes` when given, and an error or close on either
 * side destroys the other and every stream in between.
 */
export function splice(a: Duplex, b: Duplex, pipes: SplicePipes = NONE): void {
  const between = [...pipes.aToB, ...pipes.bToA];
  const down = () => {
    a.destroy();
    b.destroy();
    for (const s of between) s.destroy();
  };
  // A side that ended cleanly may still have paced chunks on their way to the other: let them out first.
  const closed = (from: Duplex, chain: readonly Duplex[]) => () => {
    const tail = chain.at(-1);
    if (tail === undefined || !from.readableEnded || tail.readableEnded) return down();
    tail.once("end", down);
    tail.once("close", down);
  };
  a.on("error", down);
  b.on("error", down);
  a.on("close", closed(a, pipes.aToB));
  b.on("close", closed(b, pipes.bToA));
  for (const s of between) s.on("error", down);
  let from = a;
  for (const s of pipes.aToB) from = from.pipe(s);
  from.pipe(b);
  from = b;
  for (const s of pipes.bToA) from = from.pipe(s);
  from.pipe(a);
}
