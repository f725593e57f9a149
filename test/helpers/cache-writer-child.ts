// A process that writes cache entries into a disk tier until it is killed (crash-safety tests).
// Entry i: key keyOf(i), body bodyOf(`k${i}`, sizeOfEntry(i)), written in 32 KiB chunks a tick apart;
// every 7th writer is aborted, every 11th key is stored twice. Prints "settled 20" once the first 20
// are in place with their rows, then "begin i" before each later entry.
import { setImmediate as tick } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { DiskTier } from "../../proxy/cache/disk-tier.ts";
import { bodyOf, hexKey, metaFor } from "./cache-entries.ts";

export const keyOf = (i: number): string => hexKey(`k${i}`);
export const sizeOfEntry = (i: number): number => (i * 7_919) % (i % 3 === 0 ? 1_500_000 : 60_000);
export const abortedEntry = (i: number): boolean => i % 7 === 3;

async function main(dir: string): Promise<void> {
  const tier = await DiskTier.open(dir, { budgetBytes: 1 << 30, maxEntries: 100_000, flushEveryMs: 20 });
  for (let i = 0; ; i++) {
    if (i === 20) {
      await tier.settled();
      process.stdout.write("settled 20\n");
    }
    if (i > 20) process.stdout.write(`begin ${i}\n`);
    const meta = { ...metaFor(`crash.test/k${i}`), key: keyOf(i) };
    const body = bodyOf(`k${i}`, sizeOfEntry(i));
    for (let rep = 0; rep < (i % 11 === 0 ? 2 : 1); rep++) {
      const w = tier.begin(meta)!;
      for (let off = 0; off < body.length; off += 32 * 1024) {
        w.write(body.subarray(off, off + 32 * 1024));
        await tick();
      }
      if (abortedEntry(i)) w.abort();
      else w.commit();
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main(process.argv[2]!);
