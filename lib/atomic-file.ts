import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { WarrenError } from "./errors.ts";

const isWindows = process.platform === "win32";

function ioError(action: string, file: string, err: unknown): WarrenError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new WarrenError("io_error", `${action} ${file} failed${code ? ` (${code})` : ""}`, { cause: err });
}

/**
 * Writes `data` to `file` atomically: a temp file in the same directory is
 * created with `mode` from the start (so a key is never briefly world-readable),
 * fsync'ed, then renamed over the target; the directory is fsync'ed afterwards.
 * A crash leaves either the old file or the new one, never a torn one.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, "wx", mode);
    await handle.writeFile(data);
    if (!isWindows) await handle.chmod(mode); // umask may have narrowed it
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, file);
  } catch (err) {
    await handle?.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw ioError("writing", file, err);
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  if (isWindows) return;
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, "r");
    await handle.sync();
  } catch {
    // best effort: some filesystems refuse fsync on directories
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Creates `dir` (and parents) with mode 0700, or tightens an existing one that is group/world accessible. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    if (isWindows) return;
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new WarrenError("io_error", `${dir} is not a directory`);
    if ((st.mode & 0o077) !== 0) await fsp.chmod(dir, 0o700);
  } catch (err) {
    if (err instanceof WarrenError) throw err;
    throw ioError("preparing directory", dir, err);
  }
}

/** chmods `file` to `mode` when it grants more than `mode` does. Returns true when it changed something. */
export async function tightenMode(file: string, mode: number): Promise<boolean> {
  if (isWindows) return false;
  try {
    const st = await fsp.stat(file);
    if ((st.mode & 0o777 & ~mode) === 0) return false;
    await fsp.chmod(file, mode);
    return true;
  } catch (err) {
    throw ioError("chmod", file, err);
  }
}

/** Reads a UTF-8 file; null when it does not exist. */
export async function readIfExists(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw ioError("reading", file, err);
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw ioError("stat", file, err);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Cross-process exclusive lock via an O_EXCL lock file. A lock older than
 * `staleMs` is considered abandoned (crashed holder) and taken over.
 */
export async function withLockFile<T>(
  lockFile: string,
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; staleMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const staleMs = opts.staleMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const h = await fsp.open(lockFile, "wx", 0o600);
      await h.writeFile(`${process.pid}\n`).finally(() => h.close());
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError("creating lock", lockFile, err);
      try {
        const st = await fsp.stat(lockFile);
        if (Date.now() - st.mtimeMs > staleMs) {
          await fsp.rm(lockFile, { force: true });
          continue;
        }
      } catch {
        continue; // vanished between open and stat
      }
      if (Date.now() > deadline) throw new WarrenError("io_error", `timed out waiting for lock ${lockFile}`);
      await sleep(25);
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockFile, { force: true }).catch(() => {});
  }
}
