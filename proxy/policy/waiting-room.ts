// The waiting room (WAF_ACTION_WAITING_ROOM, DESIGN.md §5 stage 4): at most `maxAdmitted` sessions
// of a rule's scope at once; the rest wait in arrival order. One WaitingRoom per (rule, fingerprint),
// kept across snapshot swaps while the rule is unchanged, dropped when it goes or changes. State is
// in memory (one process): a FIFO of queued session ids with their last poll, and the admitted
// sessions with their expiry. Sessions are identified by a signed cookie, `warren_wr_<rule id>` =
// "<session id>.<HMAC over rule, fingerprint, host, session id>". Time comes from `now()` so tests
// can move it. Memory is bounded by maxQueued + maxAdmitted per room; expired entries are pruned
// lazily (a scan only when the earliest known expiry has passed) and by a periodic unref'd sweep.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const WAITING_ROOM_COOKIE_PREFIX = "warren_wr_";

export interface WaitingRoomConfig {
  readonly maxAdmitted: number;
  readonly admissionTtlMs: number;
  readonly queueTimeoutMs: number;
  readonly pollIntervalS: number;
  readonly maxQueued: number;
  /** undefined: always on. Thresholds of 0 are unset; load must be above a set one. */
  readonly automatic:
    | {
        readonly activeRequests: number;
        readonly requestsPerSecond: number;
        readonly minActiveMs: number;
        readonly quietMs: number;
      }
    | undefined;
}

/** What the room says about one request. `newSession`: set the cookie for `session`. */
export type RoomDecision =
  | { readonly kind: "inactive" }
  | { readonly kind: "admitted"; readonly session: string; readonly newSession: boolean }
  | { readonly kind: "queued"; readonly session: string; readonly newSession: boolean; readonly position: number }
  | { readonly kind: "full" };

export interface RoomStatus {
  /** 1-based place in the queue; 0 when not queued. */
  readonly position: number;
  readonly admitted: boolean;
  readonly retryAfterS: number;
}

interface InfoLog {
  info(obj: object, msg: string): void;
}

interface Queued {
  lastSeen: number;
  position: number;
}

const BUCKET_MS = 100;
const BUCKETS = 10;

export function waitingRoomCookieName(ruleId: string): string {
  return `${WAITING_ROOM_COOKIE_PREFIX}${ruleId}`;
}

function sessionMac(key: Buffer, ruleId: string, fingerprint: string, host: string, session: string): Buffer {
  return createHmac("sha256", key).update("waiting_room").update("\0").update(`${ruleId}|${fingerprint}|${host}|${session}`).digest();
}

/** A new random session id (16 bytes, base64url). */
export function newSessionId(): string {
  return randomBytes(16).toString("base64url");
}

/** The cookie value for a session of this rule on this host. */
export function signSession(key: Buffer, ruleId: string, fingerprint: string, host: string, session: string): string {
  return `${session}.${sessionMac(key, ruleId, fingerprint, host, session).toString("base64url")}`;
}

/** The session id of a cookie this key signed for this rule, fingerprint and host; undefined otherwise. */
export function readSession(key: Buffer, value: string | undefined, ruleId: string, fingerprint: string, host: string): string | undefined {
  if (value === undefined || value.length > 128) return undefined;
  const dot = value.indexOf(".");
  if (dot !== 22) return undefined;
  const session = value.slice(0, dot);
  const spelled = value.slice(dot + 1);
  const got = Buffer.from(spelled, "base64url");
  const want = sessionMac(key, ruleId, fingerprint, host, session);
  // The canonical spelling only (as challenge.ts's sameMac): decoding ignores unused trailing bits.
  return got.length === want.length && got.toString("base64url") === spelled && timingSafeEqual(got, want) ? session : undefined;
}

export class WaitingRoom {
  /** Insertion order is arrival order. */
  private readonly queue = new Map<string, Queued>();
  /** Session → admission expiry (ms). */
  private readonly admitted = new Map<string, number>();
  private positionsDirty = false;
  /** No admission expires before this (refreshes only push expiries later). */
  private nextAdmitExpiry = Infinity;
  /** No queued session times out before this. */
  private nextQueueDrop = Infinity;
  private active: boolean;
  private inFlight = 0;
  private readonly buckets = new Uint32Array(BUCKETS);
  private lastSlot = 0;
  private overSince: number | undefined = undefined;
  private underSince: number | undefined = undefined;

  constructor(
    readonly ruleId: string,
    readonly ruleName: string,
    readonly fingerprint: string,
    readonly cfg: WaitingRoomConfig,
    private readonly now: () => number = Date.now,
    private readonly log?: InfoLog,
  ) {
    this.active = cfg.automatic === undefined;
  }

  get isActive(): boolean {
    return this.active;
  }
  get queuedCount(): number {
    return this.queue.size;
  }
  get admittedCount(): number {
    return this.admitted.size;
  }
  get inFlightCount(): number {
    return this.inFlight;
  }

  /** One request in the rule's scope, from `session` (a verified cookie's id) or from a client without one. */
  enter(session: string | undefined): RoomDecision {
    const now = this.now();
    if (this.cfg.automatic !== undefined) this.count(now);
    this.tick(now);
    if (!this.active) return { kind: "inactive" };
    if (session !== undefined) {
      const exp = this.admitted.get(session);
      if (exp !== undefined) {
        this.admitted.set(session, now + this.cfg.admissionTtlMs);
        return { kind: "admitted", session, newSession: false };
      }
      const q = this.queue.get(session);
      if (q !== undefined) {
        q.lastSeen = now;
        return { kind: "queued", session, newSession: false, position: this.positionOf(q) };
      }
    }
    // A new arrival (or a session the room forgot: it joins at the back, keeping its id).
    const newSession = session === undefined;
    const id = session ?? newSessionId();
    if (this.queue.size === 0 && this.admitted.size < this.cfg.maxAdmitted) {
      this.admit(id, now);
      return { kind: "admitted", session: id, newSession };
    }
    if (this.queue.size >= this.cfg.maxQueued) return { kind: "full" };
    const q: Queued = { lastSeen: now, position: this.queue.size + 1 };
    this.queue.set(id, q);
    if (now + this.cfg.queueTimeoutMs < this.nextQueueDrop) this.nextQueueDrop = now + this.cfg.queueTimeoutMs;
    return { kind: "queued", session: id, newSession, position: q.position };
  }

  /** The status endpoint: where `session` stands. A poll: it keeps a queued session's place. */
  status(session: string | undefined): RoomStatus {
    const now = this.now();
    this.tick(now);
    const retryAfterS = this.cfg.pollIntervalS;
    if (!this.active) return { position: 0, admitted: true, retryAfterS };
    if (session === undefined) return { position: 0, admitted: false, retryAfterS };
    if (this.admitted.has(session)) return { position: 0, admitted: true, retryAfterS };
    const q = this.queue.get(session);
    if (q === undefined) return { position: 0, admitted: false, retryAfterS };
    q.lastSeen = now;
    return { position: this.positionOf(q), admitted: false, retryAfterS };
  }

  /** A request went on past the rule (automatic rooms count what is in flight). */
  began(): void {
    this.inFlight++;
  }
  ended(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  /** Prunes, promotes and re-evaluates activation; the periodic sweep calls this. */
  tick(now = this.now()): void {
    if (now >= this.nextAdmitExpiry) this.pruneAdmitted(now);
    if (now >= this.nextQueueDrop) this.pruneQueue(now);
    if (this.cfg.automatic !== undefined) this.evaluate(now);
    if (this.active) this.promote(now);
  }

  private admit(id: string, now: number): void {
    const exp = now + this.cfg.admissionTtlMs;
    this.admitted.set(id, exp);
    if (exp < this.nextAdmitExpiry) this.nextAdmitExpiry = exp;
  }

  /** The head of the queue takes each free place, in arrival order. */
  private promote(now: number): void {
    while (this.admitted.size < this.cfg.maxAdmitted && this.queue.size > 0) {
      const head = this.queue.keys().next().value as string;
      this.queue.delete(head);
      this.admit(head, now);
      this.positionsDirty = true;
    }
  }

  private pruneAdmitted(now: number): void {
    let next = Infinity;
    for (const [id, exp] of this.admitted) {
      if (exp <= now) this.admitted.delete(id);
      else if (exp < next) next = exp;
    }
    this.nextAdmitExpiry = next;
  }

  private pruneQueue(now: number): void {
    let next = Infinity;
    for (const [id, q] of this.queue) {
      const drop = q.lastSeen + this.cfg.queueTimeoutMs;
      if (drop <= now) {
        this.queue.delete(id);
        this.positionsDirty = true;
      } else if (drop < next) next = drop;
    }
    this.nextQueueDrop = next;
  }

  /** Positions are recomputed in one pass after removals (appends keep everyone else's). */
  private positionOf(q: Queued): number {
    if (this.positionsDirty) {
      let i = 0;
      for (const e of this.queue.values()) e.position = ++i;
      this.positionsDirty = false;
    }
    return q.position;
  }

  private count(now: number): void {
    this.rollWindow(now);
    this.buckets[this.lastSlot % BUCKETS]!++;
  }

  private rollWindow(now: number): void {
    const slot = Math.floor(now / BUCKET_MS);
    if (slot === this.lastSlot) return;
    if (slot - this.lastSlot >= BUCKETS) this.buckets.fill(0);
    else for (let s = this.lastSlot + 1; s <= slot; s++) this.buckets[s % BUCKETS] = 0;
    this.lastSlot = slot;
  }

  /** Requests in the rule's scope over the last second (ten 100 ms buckets). */
  requestsPerSecond(now = this.now()): number {
    this.rollWindow(now);
    let n = 0;
    for (const b of this.buckets) n += b;
    return n;
  }

  private evaluate(now: number): void {
    const a = this.cfg.automatic!;
    const rps = this.requestsPerSecond(now);
    const over = (a.activeRequests > 0 && this.inFlight > a.activeRequests) || (a.requestsPerSecond > 0 && rps > a.requestsPerSecond);
    if (!this.active) {
      if (!over) {
        this.overSince = undefined;
        return;
      }
      this.overSince ??= now;
      if (now - this.overSince < a.minActiveMs) return;
      this.active = true;
      this.underSince = undefined;
      this.log?.info({ ruleId: this.ruleId, rule: this.ruleName, requestsPerSecond: rps, inFlight: this.inFlight }, "waiting room on");
      return;
    }
    if (over) {
      this.underSince = undefined;
      return;
    }
    this.underSince ??= now;
    if (now - this.underSince < a.quietMs) return;
    this.active = false;
    this.overSince = undefined;
    this.log?.info({ ruleId: this.ruleId, rule: this.ruleName, requestsPerSecond: rps, inFlight: this.inFlight, queued: this.queue.size, admitted: this.admitted.size }, "waiting room off");
    // Off: everyone goes on; the next activation starts with an empty room.
    this.queue.clear();
    this.admitted.clear();
    this.nextAdmitExpiry = Infinity;
    this.nextQueueDrop = Infinity;
  }
}

interface RoomRule {
  readonly id: string;
  readonly name: string;
  readonly fingerprint: string;
}

/** The rooms of every waiting room rule, by rule id; the WAF stage and the status endpoint share it. */
export class WaitingRooms {
  private readonly rooms = new Map<string, WaitingRoom>();
  private timer: NodeJS.Timeout | undefined = undefined;
  private lastRules: readonly RoomRule[] | undefined = undefined;

  constructor(
    private readonly log?: InfoLog,
    private readonly now: () => number = Date.now,
    private readonly sweepMs = 1000,
  ) {}

  /** The room for a rule as it is now (a changed fingerprint starts a new, empty room). */
  room(rule: RoomRule, cfg: WaitingRoomConfig): WaitingRoom {
    let r = this.rooms.get(rule.id);
    if (r === undefined || r.fingerprint !== rule.fingerprint) {
      r = new WaitingRoom(rule.id, rule.name, rule.fingerprint, cfg, this.now, this.log);
      this.rooms.set(rule.id, r);
      this.timer ??= setInterval(() => this.sweep(), this.sweepMs).unref();
    }
    return r;
  }

  get(ruleId: string, fingerprint: string): WaitingRoom | undefined {
    const r = this.rooms.get(ruleId);
    return r?.fingerprint === fingerprint ? r : undefined;
  }

  /** Drops the rooms of rules that are gone or changed (called when a new snapshot's rules are seen). */
  retain(rules: readonly RoomRule[]): void {
    if (rules === this.lastRules || this.rooms.size === 0) return;
    this.lastRules = rules;
    for (const [id, r] of this.rooms) if (!rules.some((x) => x.id === id && x.fingerprint === r.fingerprint)) this.rooms.delete(id);
    if (this.rooms.size === 0) this.close();
  }

  sweep(): void {
    const now = this.now();
    for (const r of this.rooms.values()) r.tick(now);
  }

  get size(): number {
    return this.rooms.size;
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
