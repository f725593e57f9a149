// Fault suite (issue 13 §1): `kill -9` of the real `warren agent` process mid-transfer, in a loop, while
// uploads and downloads stream through it (SHA-256 of every body at both ends). Pass: every request
// the kill hits ends cleanly — a 502 or a cut response (an error on the body), never a hang and never
// a "complete" body with wrong bytes; the agent, restarted by the test at once, is back online (the
// server's registry logs "agent online") within 2 s of the kill, every time.
//
// Kills run in LANES independent lanes (one agent and one route each) so that agent start-ups overlap;
// FAULT_KILLS sets the total (default 200; bench/fault/agent-kill.sh runs 1,000).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { Agent, request } from "undici";
import { createAgent, startAgent, type AgentHandle } from "../helpers/agent-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { occurrences } from "../helpers/log-occurrences.ts";
import { rssBytes } from "../helpers/raw-agent.ts";
import { publicListener, type WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

const KILLS = Math.max(1, Number(process.env.FAULT_KILLS ?? 200));
/** Three lanes keep 2 cores busy with agent start-ups (~350 ms of module loading each): 200 kills ≈ 50 s. */
const LANES = Math.max(1, Number(process.env.FAULT_LANES ?? 3));
const BACK_ONLINE_MS = 2_000;
/** Per kill: one download and one upload of this size, each spread over TRANSFER_MS so the kill lands mid-body. */
const TRANSFER_BYTES = 160 * 1024;
const TRANSFER_MS = 400;
const CHUNK = 16 * 1024;
/** A request still unfinished this long after the kill is a hang. */
const HANG_MS = 10_000;

type Outcome = "ok" | "502" | "cut" | "other-status" | "corrupt" | "hang";

interface Transfer {
  /** Resolves once bytes are moving (the kill must land mid-body). */
  readonly started: Promise<void>;
  readonly outcome: Promise<Outcome>;
}

function payload(seed: number): Buffer {
  const b = Buffer.allocUnsafe(CHUNK);
  for (let i = 0; i < CHUNK; i += 4) b.writeUInt32LE(((i + seed) * 2654435761) >>> 0, i);
  return b;
}

function withHangBound(p: Promise<Outcome>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<Outcome>((r) => (timer = setTimeout(() => r("hang"), HANG_MS)));
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

function download(dispatcher: Agent, port: number, host: string): Transfer {
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const outcome = (async (): Promise<Outcome> => {
    let res;
    try {
      res = await request(`http://127.0.0.1:${port}/slow?ms=${TRANSFER_MS}&bytes=${TRANSFER_BYTES}`, { headers: { host }, dispatcher });
    } catch {
      markStarted();
      return "cut";
    }
    if (res.statusCode !== 200) {
      markStarted();
      await res.body.dump().catch(() => {});
      return res.statusCode === 502 ? "502" : "other-status";
    }
    const h = createHash("sha256");
    let n = 0;
    try {
      for await (const d of res.body) {
        h.update(d as Buffer);
        n += (d as Buffer).length;
        markStarted();
      }
    } catch {
      markStarted();
      return "cut";
    }
    markStarted();
    return n === TRANSFER_BYTES && h.digest("hex") === res.headers["x-sha256"] ? "ok" : "corrupt";
  })();
  return { started, outcome: withHangBound(outcome) };
}

function upload(dispatcher: Agent, port: number, host: string, seed: number): Transfer {
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const sent = createHash("sha256");
  const chunks = TRANSFER_BYTES / CHUNK;
  const body = Readable.from(
    (async function* () {
      for (let i = 0; i < chunks; i++) {
        const c = payload(seed + i);
        sent.update(c);
        yield c;
        if (i === 1) markStarted();
        await delay(TRANSFER_MS / chunks); // the client's pace: what makes the body still be in flight at the kill
      }
    })(),
  );
  const outcome = (async (): Promise<Outcome> => {
    try {
      const res = await request(`http://127.0.0.1:${port}/upload`, { method: "POST", headers: { host }, body, dispatcher });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => {});
        return res.statusCode === 502 ? "502" : "other-status";
      }
      const got = (await res.body.json()) as { sha256: string; bytes: number };
      return got.bytes === TRANSFER_BYTES && got.sha256 === sent.digest("hex") ? "ok" : "corrupt";
    } catch {
      return "cut";
    } finally {
      markStarted();
    }
  })();
  return { started, outcome: withHangBound(outcome) };
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

describe("fault: kill -9 the agent mid-transfer (issue 13 §1)", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let origin: Origin;
  let port: number;
  const lanes: { agent: AgentHandle; host: string; stateDir: string }[] = [];

  before(async () => {
    w = warren.w;
    const c = warren.admin;
    const api = warren.api;
    const listener = await publicListener(api, c);
    port = listener.port;
    origin = await startOrigin("behind-agent");
    for (let i = 0; i < LANES; i++) {
      const agent = await createAgent(api, c, { name: `lane-${i}`, labels: { lane: String(i) } });
      const host = `lane-${i}.test`;
      const r = await api.call(
        "ProxyService/CreateRoute",
        { spec: { listenerId: listener.id, hosts: [host], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_AGENT", url: origin.url, agentSelector: { lane: String(i) }, enabled: true }] } },
        c,
      );
      assert.equal(r.status, 200, r.text);
      lanes.push({ agent, host, stateDir: mkdtempSync(join(tmpdir(), "warren-agent-")) });
    }
  });
  after(async () => {
    await origin?.close();
    for (const l of lanes) rmSync(l.stateDir, { recursive: true, force: true });
  });

  it(`kills the agent ${KILLS} times mid-transfer: every hit request ends in a 502 or a cut, never a hang or wrong bytes; back online < ${BACK_ONLINE_MS} ms each time`, async (t) => {
    const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
    const tally: Record<Outcome, number> = { ok: 0, "502": 0, cut: 0, "other-status": 0, corrupt: 0, hang: 0 };
    const backOnline: number[] = [];
    const problems: string[] = [];
    const perLane = Math.ceil(KILLS / LANES);
    const started = Date.now();
    let kills = 0;
    let maxAgentRss = 0;

    const runLane = async (lane: (typeof lanes)[number], laneNo: number) => {
      const online = occurrences(w, (l) => l.msg === "agent online" && l.agentId === lane.agent.id, `agent ${lane.agent.id} online`);
      let next = online.next();
      let proc = startAgent(w, lane.agent, {}, lane.stateDir);
      await next;
      for (let k = 0; k < perLane && kills < KILLS; k++) {
        kills++;
        const transfers = [download(dispatcher, port, lane.host), upload(dispatcher, port, lane.host, laneNo * 1_000_000 + k * 100)];
        await Promise.all(transfers.map((x) => x.started));
        maxAgentRss = Math.max(maxAgentRss, rssBytes(proc.child.pid!));
        next = online.next();
        const killedAt = Date.now();
        await proc.kill();
        proc = startAgent(w, lane.agent, {}, lane.stateDir);
        const outcomes = await Promise.all(transfers.map((x) => x.outcome));
        for (const o of outcomes) tally[o]++;
        if (outcomes.some((o) => o === "corrupt" || o === "hang" || o === "other-status")) problems.push(`lane ${laneNo} kill ${k}: ${outcomes.join(", ")}`);
        await next.catch((e: Error) => problems.push(`lane ${laneNo} kill ${k}: ${e.message}`));
        const ms = Date.now() - killedAt;
        backOnline.push(ms);
        if (ms >= BACK_ONLINE_MS) problems.push(`lane ${laneNo} kill ${k}: back online after ${ms} ms`);
        if (problems.length > 20) throw new Error(`too many failures: ${problems.join("; ")}`);
      }
      await proc.kill();
    };
    try {
      await Promise.all(lanes.map((l, i) => runLane(l, i)));
    } finally {
      await dispatcher.close();
      // Also when a lane failed: how far it got, with the figures so far.
      const secs = (Date.now() - started) / 1000;
      const serverRss = w.child.exitCode === null ? `${(rssBytes(w.child.pid!) / 2 ** 20).toFixed(0)} MiB` : "(exited)";
      t.diagnostic(
        `${kills} kills in ${secs.toFixed(1)} s over ${LANES} lanes; outcomes ${JSON.stringify(tally)}; back online p50 ${percentile(backOnline, 50)} ms, p99 ${percentile(backOnline, 99)} ms, max ${Math.max(...backOnline)} ms; agent RSS max ${(maxAgentRss / 2 ** 20).toFixed(0)} MiB, server RSS ${serverRss}`,
      );
    }
    assert.deepEqual(problems, []);
    assert.equal(kills, KILLS);
    assert.equal(backOnline.length, KILLS, "every restart was timed");
    assert.equal(tally.corrupt + tally.hang + tally["other-status"], 0);
    // The kill must have hit transfers, not idle agents: most requests end in a 502 or a cut.
    assert.ok(tally["502"] + tally.cut >= KILLS, `kills hit transfers: ${JSON.stringify(tally)}`);
    assert.equal(w.child.exitCode, null, "warren serve is still running");
  });
});
