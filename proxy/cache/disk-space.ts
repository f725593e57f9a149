// The disk tier's byte budget, kept twice. `claimed` is what the tier has promised: visible entries,
// bodies being written (each chunk as it is accepted) and the index database; it never passes the
// budget because accepting a chunk first evicts least-recently-used entries. `onDisk` is what the
// folder holds right now: an evicted body stays until its file is unlinked, so a writer's bytes go
// to the file only once they fit beside everything still there. Hence the folder never grows past
// the budget, even while evicted files wait for their unlink. The index database is measured after
// each batch of rows; `reserve` stays free in both counts for what it may grow by in between. The
// tier counts files in whole blocks and directories as a block each, so `du` agrees.

interface Waiter {
  readonly n: number;
  readonly owner: object;
  readonly resolve: (granted: boolean) => void;
}

export class DiskSpace {
  private claimedBytes = 0;
  private onDiskBytes = 0;
  private overhead = 0;
  private readonly waiters: Waiter[] = [];

  private readonly limit: number;

  constructor(
    readonly budget: number,
    reserve: number,
  ) {
    this.limit = budget - reserve;
  }

  get claimed(): number {
    return this.claimedBytes;
  }

  get onDisk(): number {
    return this.onDiskBytes;
  }

  fits(n: number): boolean {
    return this.claimedBytes + n <= this.limit;
  }

  claim(n: number): void {
    this.claimedBytes += n;
  }

  release(n: number): void {
    this.claimedBytes -= n;
  }

  /**
   * Room for `n` more bytes in the folder: true at once, or a promise that resolves true when
   * unlinks have made room (first come, first served), or false when `abandon(owner)` gave up.
   */
  acquire(n: number, owner: object): true | Promise<boolean> {
    if (this.waiters.length === 0 && this.onDiskBytes + n <= this.limit) {
      this.onDiskBytes += n;
      return true;
    }
    return new Promise<boolean>((resolve) => this.waiters.push({ n, owner, resolve }));
  }

  /** Bytes that are in the folder without a wait (found at start). */
  occupy(n: number): void {
    this.onDiskBytes += n;
  }

  /** A file of `n` bytes left the folder. */
  free(n: number): void {
    this.onDiskBytes -= n;
    this.wake();
  }

  abandon(owner: object): void {
    const i = this.waiters.findIndex((w) => w.owner === owner);
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(false);
    this.wake();
  }

  /** The index database's size as last measured: claimed and on disk like a body. */
  setOverhead(bytes: number): void {
    const d = bytes - this.overhead;
    this.overhead = bytes;
    this.claimedBytes += d;
    this.onDiskBytes += d;
    if (d < 0) this.wake();
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.onDiskBytes + this.waiters[0]!.n <= this.limit) {
      const w = this.waiters.shift()!;
      this.onDiskBytes += w.n;
      w.resolve(true);
    }
  }
}
