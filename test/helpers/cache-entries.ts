// Building, storing and reading cache entries in tests of the cache stores.
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { CacheStore, EntryMeta, StoredEntry } from "../../proxy/cache/types.ts";

/** A key in the stores' form (hex), derived from a readable name. */
export const hexKey = (name: string): string => createHash("sha256").update(name).digest("hex");

/** Meta for `url` ("host/path?query"); the key is the URL's unless `variant` names a variant. */
export function metaFor(url: string, over: Partial<Omit<EntryMeta, "size">> & { variant?: string } = {}): Omit<EntryMeta, "size"> {
  const { variant, ...rest } = over;
  const slash = url.indexOf("/");
  const host = url.slice(0, slash);
  const pathQ = url.slice(slash);
  const q = pathQ.indexOf("?");
  return {
    key: hexKey(url + (variant !== undefined ? `#${variant}` : "")),
    primary: hexKey(url),
    vary: [],
    ruleId: "rule_a",
    host,
    path: q >= 0 ? pathQ.slice(0, q) : pathQ,
    url,
    status: 200,
    headers: ["content-type", "text/plain", "etag", '"v1"'],
    policy: { v: 1, t: 1_800_000_000_000, sh: true, ch: 0.1, resh: { "content-type": "text/plain" } },
    storedAt: 1_800_000_000_000,
    ...rest,
  };
}

/** A body of `n` bytes whose content depends on `seed` (so mixing two bodies up shows). */
export function bodyOf(seed: string, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let block = createHash("sha256").update(seed).digest();
  for (let i = 0; i < n; i += block.length) {
    block.copy(out, i, 0, Math.min(block.length, n - i));
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

/** Stores `body` in chunks; returns the writer's commit outcome as seen by get(). */
export function put(store: CacheStore, meta: Omit<EntryMeta, "size">, body: Buffer, chunk = 16 * 1024): boolean {
  const w = store.begin(meta);
  if (w === undefined) return false;
  for (let i = 0; i < body.length; i += chunk) w.write(body.subarray(i, i + chunk));
  w.commit();
  return true;
}

export async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export async function bodyOfEntry(e: StoredEntry | undefined): Promise<Buffer | undefined> {
  return e === undefined ? undefined : readAll(e.open());
}

/** Bytes of every file under `dir` (apparent sizes), like `du --apparent-size -sb`. */
export function folderBytes(dir: string): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0; // removed while walking
  }
  for (const name of names) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      n += st.isDirectory() ? folderBytes(p) : st.size;
    } catch {
      // unlinked while walking
    }
  }
  return n;
}

/** Blocks allocated to `dir` and everything under it, like `du -sb` without --apparent-size. */
export function folderAllocatedBytes(dir: string): number {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return 0;
  }
  let n = st.blocks * 512;
  if (!st.isDirectory()) return n;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // removed while walking
  }
  for (const name of names) n += folderAllocatedBytes(join(dir, name));
  return n;
}

/** Files under `dir`, relative, sorted. */
export function filesUnder(dir: string, base = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, base)).sort()) {
    const rel = join(base, name);
    if (statSync(join(dir, rel)).isDirectory()) out.push(...filesUnder(dir, rel));
    else out.push(rel);
  }
  return out;
}
