// The disk tier beyond the shared conformance suite: crash safety against a process killed while
// writing, readers racing writers, purges and unlinks, index rows written off the request path, and
// the folder staying within its budget.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { DiskTier } from "../../../proxy/cache/disk-tier.ts";
import { bodyOf, bodyOfEntry, filesUnder, folderAllocatedBytes, folderBytes, metaFor, put, readAll } from "../../helpers/cache-entries.ts";
import { abortedEntry, keyOf, sizeOfEntry } from "../../helpers/cache-writer-child.ts";

const MiB = 1 << 20;
const root = mkdtempSync(join(tmpdir(), "warren-disk-tier-"));
// Closed even when a test fails midway: an open tier's writer thread would keep the process alive.
const tiers: DiskTier[] = [];
const openTier = async (...a: Parameters<typeof DiskTier.open>) => {
  const t = await DiskTier.open(...a);
  tiers.push(t);
  return t;
};
after(async () => {
  for (const t of tiers) await t.close();
  rmSync(root, { recursive: true, force: true });
});
let dirs = 0;
const freshDir = () => join(root, `d${++dirs}`);
const bodyFiles = (dir: string) => filesUnder(dir).filter((f) => f.endsWith(".body"));
const child = fileURLToPath(new URL("../../helpers/cache-writer-child.ts", import.meta.url));

describe("disk tier: crash safety", () => {
  for (const killAfterMs of [150, 700]) {
    it(`a writer process SIGKILLed mid-write (${killAfterMs} ms in) leaves only whole entries`, async () => {
      const dir = freshDir();
      const p = spawn(process.execPath, ["--import", "tsx", child, dir], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      p.stdout.setEncoding("utf8");
      const settled = new Promise<void>((resolve, reject) => {
        p.stdout.on("data", (s: string) => {
          out += s;
          if (out.includes("settled 20\n")) resolve();
        });
        p.once("exit", (code) => reject(new Error(`the writer exited (${code}) before settling: ${out}`)));
      });
      await settled;
      await delay(killAfterMs);
      p.kill("SIGKILL");
      await once(p, "exit");
      const begun = Math.max(20, ...[...out.matchAll(/begin (\d+)/g)].map((m) => Number(m[1])));
      assert.ok(begun > 20, "the writer got past its first entries before the kill");

      const tier = await openTier(dir, { budgetBytes: 1 << 30, maxEntries: 100_000 });
      try {
        let found = 0;
        for (let i = 0; i <= begun + 1; i++) {
          const e = tier.get(keyOf(i));
          if (i < 20) assert.equal(e === undefined, abortedEntry(i), `entry ${i} was settled before the kill`);
          if (e === undefined) continue;
          assert.ok(!abortedEntry(i), `aborted entry ${i} is not visible`);
          found++;
          assert.equal(e.meta.size, sizeOfEntry(i));
          assert.ok((await bodyOfEntry(e))!.equals(bodyOf(`k${i}`, sizeOfEntry(i))), `entry ${i}'s body is whole`);
        }
        assert.equal(tier.usage().disk.entries, found);
        assert.deepEqual(readdirSync(join(dir, "tmp")), []);
        assert.equal(bodyFiles(dir).length, found, "no body file without its entry");
      } finally {
        await tier.close();
      }
    });
  }
});

describe("disk tier: an unreadable index", () => {
  it("starts an empty cache and deletes the bodies it can no longer vouch for", async () => {
    const dir = freshDir();
    let tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100 });
    for (let i = 0; i < 3; i++) put(tier, metaFor(`a.test/lost/${i}`), bodyOf(`l${i}`, 3000));
    await tier.close();
    for (const f of ["cache.db-wal", "cache.db-shm"]) rmSync(join(dir, f), { force: true });
    writeFileSync(join(dir, "cache.db"), "this is not a database, it is a cache index that got clobbered".repeat(100));
    tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100 });
    assert.equal(tier.usage().disk.entries, 0);
    assert.deepEqual(bodyFiles(dir), []);
    put(tier, metaFor("a.test/lost/new"), bodyOf("n", 10));
    await tier.close();
    tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100 });
    assert.equal(tier.usage().disk.entries, 1);
  });
});

describe("disk tier: readers, writers and unlinks", () => {
  it("a body committed but not yet in place streams whole once it is", async () => {
    const dir = freshDir();
    const tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100, maxPendingBytes: 16 * MiB });
    const meta = metaFor("a.test/big");
    const body = bodyOf("big", 6 * MiB);
    put(tier, meta, body, 64 * 1024);
    const readers = [tier.get(meta.key)!.open(), tier.get(meta.key)!.open()];
    const got = await Promise.all(readers.map(readAll));
    for (const g of got) assert.ok(g.equals(body));
    await tier.close();
  });

  it("purging an entry whose file a reader is opening still serves that reader, then unlinks the file", async () => {
    const dir = freshDir();
    const tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100 });
    const meta = metaFor("a.test/p");
    put(tier, meta, bodyOf("p", 500_000));
    await tier.settled();
    const s = tier.get(meta.key)!.open();
    assert.deepEqual(tier.purge({ kind: "url", url: meta.url }), { entries: 1, bytes: 500_000 });
    assert.equal(tier.get(meta.key), undefined);
    assert.ok((await readAll(s)).equals(bodyOf("p", 500_000)));
    await tier.settled();
    assert.deepEqual(bodyFiles(dir), []);
    await tier.close();
  });

  it("purging an entry still being written fails its waiting readers and leaves no file", async () => {
    const dir = freshDir();
    const tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100 });
    const meta = metaFor("a.test/w");
    put(tier, meta, bodyOf("w", 4 * MiB), 256 * 1024);
    const s = tier.get(meta.key)!.open();
    tier.purge({ kind: "all" });
    await assert.rejects(readAll(s), (e: Error & { code?: string }) => e.code === "cache_entry_gone");
    await tier.settled();
    assert.deepEqual(bodyFiles(dir), []);
    assert.deepEqual(readdirSync(join(dir, "tmp")), []);
    assert.deepEqual(tier.diskSpace().claimed, tier.diskSpace().onDisk);
    await tier.close();
  });

  it("a body file removed behind the tier's back fails the read and drops the entry", async () => {
    const dir = freshDir();
    const tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100 });
    const meta = metaFor("a.test/gone");
    put(tier, meta, bodyOf("gone", 1000));
    await tier.settled();
    rmSync(join(dir, bodyFiles(dir)[0]!));
    await assert.rejects(readAll(tier.get(meta.key)!.open()), (e: NodeJS.ErrnoException) => e.code === "ENOENT");
    assert.equal(tier.get(meta.key), undefined);
    await tier.close();
  });

  it("drops a body over maxObjectBytes, and writers whose chunks outrun the disk past maxPendingBytes in all", async () => {
    const dir = freshDir();
    const tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100, maxObjectBytes: MiB, maxPendingBytes: 2 * MiB });
    const big = metaFor("a.test/too-big");
    put(tier, big, bodyOf("x", MiB + 1));
    assert.equal(tier.get(big.key), undefined);
    // 3.6 MiB written in one go: the disk cannot have taken it yet.
    const fast = metaFor("a.test/too-fast");
    const w = tier.begin(fast)!;
    for (let i = 0; i < 4; i++) w.write(bodyOf(`f${i}`, 900_000));
    w.commit();
    assert.equal(w.stored, false);
    assert.equal(tier.get(fast.key), undefined);
    // Three writers of 0.9 MiB each, each within the limit, together past it: the third is dropped.
    const ws = [0, 1, 2].map((i) => tier.begin(metaFor(`a.test/many/${i}`))!);
    for (const [i, x] of ws.entries()) x.write(bodyOf(`m${i}`, 900_000));
    for (const x of ws) x.commit();
    assert.deepEqual(
      ws.map((x) => x.stored),
      [true, true, false],
    );
    await tier.settled();
    assert.deepEqual(readdirSync(join(dir, "tmp")), []);
    assert.deepEqual(tier.usage().disk, { entries: 2, bytes: 1_800_000, budgetBytes: 64 * MiB });
    await tier.close();
  });

  it("writes index rows off the request path: none right after commit, all once settled", async () => {
    const dir = freshDir();
    const tier = await openTier(dir, { budgetBytes: 64 * MiB, maxEntries: 100, flushEveryMs: 60_000 });
    const rows = () => {
      const db = new Database(join(dir, "cache.db"), { readonly: true });
      try {
        return (db.prepare("SELECT count(*) AS n FROM cache_entries").get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    for (let i = 0; i < 10; i++) put(tier, metaFor(`a.test/row/${i}`), bodyOf(`r${i}`, 2000));
    assert.equal(tier.usage().disk.entries, 10);
    assert.equal(rows(), 0);
    await tier.settled();
    assert.equal(rows(), 10);
    tier.purge({ kind: "path_prefix", host: "a.test", pathPrefix: "/row" });
    await tier.settled();
    assert.equal(rows(), 0);
    await tier.close();
  });
});

describe("disk tier: budget", () => {
  it("never lets the folder (bodies, temp files, index database) grow past the budget under churn", async () => {
    const dir = freshDir();
    const budget = 4 * MiB;
    const tier = await openTier(dir, { budgetBytes: budget, maxEntries: 10_000, flushEveryMs: 10 });
    let maxFolder = 0;
    let maxAllocated = 0;
    let maxOnDisk = 0;
    const sample = () => {
      maxFolder = Math.max(maxFolder, folderBytes(dir));
      maxAllocated = Math.max(maxAllocated, folderAllocatedBytes(dir));
      maxOnDisk = Math.max(maxOnDisk, tier.diskSpace().onDisk);
    };
    const timer = setInterval(sample, 2);
    let written = 0;
    for (let i = 0; written < 32 * MiB; i++) {
      const size = i % 10 === 0 ? 1_500_000 : 20_000 + ((i * 7_919) % 200_000);
      const w = tier.begin(metaFor(`a.test/churn/${i}`))!;
      const body = bodyOf(`c${i}`, size);
      for (let off = 0; off < size; off += 64 * 1024) {
        w.write(body.subarray(off, off + 64 * 1024));
        if (off % (256 * 1024) === 0) await delay(0);
      }
      w.commit();
      written += size;
      if (i % 3 === 0) tier.get(metaFor(`a.test/churn/${i - 1}`).key); // some stay hot
      sample();
    }
    await tier.settled();
    clearInterval(timer);
    sample();
    assert.ok(maxFolder <= budget, `folder reached ${maxFolder} bytes (budget ${budget})`);
    assert.ok(maxAllocated <= budget, `folder reached ${maxAllocated} allocated bytes (budget ${budget})`);
    assert.ok(maxOnDisk <= budget, `accounted ${maxOnDisk} bytes (budget ${budget})`);
    assert.ok(tier.usage().disk.bytes > budget / 2, "the budget is used, not just respected");
    await tier.close();
  });
});
