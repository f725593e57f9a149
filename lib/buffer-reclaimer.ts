// A proxy moves many bytes with few JS objects. The bytes live in Buffers whose memory is outside the
// JS heap (socket reads, body chunks), and a dead one is freed only when the garbage collector runs —
// which V8 schedules by JS heap allocation, and for memory outside the heap only past a 64 MiB soft
// limit. So a quiet process relaying a large or slowly paced body kept every chunk it had passed on,
// dead, until then: a shaped 20 MiB download grew RSS by 16 MiB, a 50 MiB transfer by 56–74 MiB.
// Every 100 ms this checks how much Buffer memory has appeared since it last looked and, past 8 MiB,
// runs a minor GC (a scavenge: a millisecond or two) that frees the dead young Buffers. At most ten
// a second (1–2 % of a core at worst); on a busy proxy V8 collects that often anyway.
import { exposedGc } from "./exposed-gc.ts";

const CHECK_EVERY_MS = 100;
const GROWTH_BYTES = 8 * 1024 * 1024;

/**
 * The decision, apart from the timer and V8 (so it can be tested on its own): each check reads the
 * Buffer memory and collects once GROWTH_BYTES of it appeared since the level growth counts from.
 */
export class ReclaimPolicy {
  private baseline: number;
  collections = 0;

  constructor(
    private readonly read: () => number,
    private readonly collect: () => void,
    private readonly growthBytes = GROWTH_BYTES,
  ) {
    this.baseline = read();
  }

  /** One check; true when it collected. */
  check(): boolean {
    const now = this.read();
    if (now - this.baseline < this.growthBytes) {
      // Freed meanwhile (a GC of V8's own): measure growth from the lower level.
      this.baseline = Math.min(this.baseline, now);
      return false;
    }
    this.collect();
    this.collections++;
    // What is still there is alive (a cache's hot objects, chunks in flight): growth counts from here.
    this.baseline = this.read();
    return true;
  }
}

let timer: NodeJS.Timeout | undefined;
let users = 0;
/** Kept across stops and restarts, so its count of collections is the process's. */
let policy: ReclaimPolicy | undefined;

const arrayBuffers = (): number => process.memoryUsage().arrayBuffers;

/** Starts the reclaimer (shared by every caller in the process); the returned function stops this caller's use. */
export function retainBufferReclaimer(): () => void {
  users++;
  const gc = exposedGc();
  if (timer === undefined && gc !== null) {
    const p = (policy ??= new ReclaimPolicy(arrayBuffers, () => gc({ type: "minor" })));
    timer = setInterval(() => p.check(), CHECK_EVERY_MS);
    timer.unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** How many collections the reclaimer has asked for (for tests and metrics). */
export function bufferReclaimerCollections(): number {
  return policy?.collections ?? 0;
}
