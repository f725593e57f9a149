// Issue 13 §1: the public-listener fuzz suite. Seeded malformed HTTP/1.x over raw sockets (request
// lines, header names and values, CL/TE framing, chunked bodies, Expect, versions, absurd sizes),
// written whole, split at random offsets or byte by byte, through a direct target and an agent target,
// with valid requests mixed in. Per case: never a 5xx; a malformed request gets a 4xx (or a close with
// no answer); a framing error closes the connection; the origin never completes a request Warren
// refused, and never sees a request smuggled in another's body. A valid request every few cases
// proves the data plane keeps serving.
//
// FUZZ_SEED=n picks the seed (default fixed, printed); FUZZ_SCALE=k multiplies the case count
// (default 1, sized for `npm test`; FUZZ_SCALE=10 is the long mode).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Harness } from "./harness.ts";
import { seeded } from "../helpers/seeded.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x13f00d) >>> 0;
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1));
const CASES_PER_TARGET = Math.round(250 * SCALE);
const LIVENESS_EVERY = 20;
const AGENT = "agt_fuzzfuzzfuzzfuzz";

// ---------------------------------------------------------------------------------------------------
// The origin: records every request head it sees and whether its body completed.

interface Seen {
  method: string;
  url: string;
  complete: boolean;
  bytes: number;
}

async function startRecordingOrigin(): Promise<{ port: number; url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  // A generous head limit so Warren's own limit (32 KiB) is the one under test.
  const server = http.createServer({ maxHeaderSize: 128 * 1024 }, (req, res) => {
    const rec: Seen = { method: req.method ?? "", url: req.url ?? "", complete: false, bytes: 0 };
    seen.push(rec);
    const h = createHash("sha256");
    req.on("data", (d: Buffer) => {
      rec.bytes += d.length;
      h.update(d);
    });
    req.on("error", () => {});
    req.on("end", () => {
      rec.complete = true;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: req.url, bytes: rec.bytes, sha256: h.digest("hex") }));
    });
  });
  server.on("clientError", (_e, s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------
// The client: writes a case and reads what comes back, response by response.

interface Outcome {
  raw: string;
  /** Final statuses in order (1xx left out). */
  finals: number[];
  /** Every status line seen. */
  statuses: number[];
  /** The server closed the connection (before we gave up). */
  closed: boolean;
  /** Nothing and no close within the deadlines, even after our half-close. */
  hung: boolean;
  /** The first final response was complete (head + Content-Length body). */
  complete: boolean;
  body: string;
}

function parseResponses(raw: string): { finals: number[]; statuses: number[]; complete: boolean; body: string; closeHeader: boolean; untilClose: boolean } {
  const finals: number[] = [];
  const statuses: number[] = [];
  let rest = raw;
  let complete = false;
  let body = "";
  let closeHeader = false;
  let untilClose = false;
  while (rest.startsWith("HTTP/")) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const lines = rest.slice(0, end).split("\r\n");
    const code = Number(lines[0]!.split(" ")[1]);
    statuses.push(code);
    rest = rest.slice(end + 4);
    if (code < 200) continue;
    finals.push(code);
    let len = -1;
    let chunked = false;
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      const k = l.slice(0, c).trim().toLowerCase();
      const v = l.slice(c + 1).trim();
      if (k === "content-length") len = Number(v);
      if (k === "transfer-encoding" && v.toLowerCase() === "chunked") chunked = true;
      if (k === "connection" && v.toLowerCase() === "close" && finals.length === 1) closeHeader = true;
    }
    let got = "";
    if (chunked) {
      // Unchunk (well-formed, it comes from Warren); incomplete until the last chunk.
      let at = 0;
      let last = false;
      for (;;) {
        const eol = rest.indexOf("\r\n", at);
        if (eol < 0) break;
        const n = parseInt(rest.slice(at, eol), 16);
        if (n === 0) {
          const end = rest.indexOf("\r\n\r\n", eol - 2 < at ? at : eol - 2);
          if (end >= 0) {
            last = true;
            len = end + 4;
          }
          break;
        }
        if (rest.length < eol + 2 + n + 2) break;
        got += rest.slice(eol + 2, eol + 2 + n);
        at = eol + 2 + n + 2;
      }
      if (!last) break;
    } else if (len < 0 && closeHeader && code !== 204 && code !== 304) {
      // No length: the body runs to the close (an HTTP/1.0 answer); complete once closed.
      untilClose = true;
      got = rest;
      len = rest.length;
    } else {
      if (len < 0) len = 0;
      if (rest.length < len) break;
      got = rest.slice(0, len);
    }
    if (finals.length === 1) {
      complete = true;
      body = got;
    }
    rest = rest.slice(len);
  }
  return { finals, statuses, complete, body, closeHeader, untilClose };
}

/**
 * Sends `pieces` (pausing `gapMs` between them), optionally half-closes, and reads until the server
 * closes, or the first final response is complete and `graceMs` pass (extra bytes — a second response —
 * are caught). With no answer by `answerMs`, half-closes and waits as long again before calling it a hang.
 */
function exchange(port: number, pieces: Buffer[], o: { gapMs: number; halfClose: boolean; waitClose: boolean }): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    const chunks: Buffer[] = [];
    let closed = false;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let halfClosed = false;
    const finish = (hung: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const raw = Buffer.concat(chunks).toString("latin1");
      const p = parseResponses(raw);
      resolve({ raw, finals: p.finals, statuses: p.statuses, closed, hung, complete: p.complete, body: p.body });
    };
    const arm = (ms: number, f: () => void) => {
      clearTimeout(timer);
      timer = setTimeout(f, ms);
    };
    const noAnswer = () => {
      if (!halfClosed) {
        halfClosed = true;
        sock.end();
        arm(1_500, noAnswer);
      } else finish(true);
    };
    sock.on("data", (c: Buffer) => {
      chunks.push(c);
      const p = parseResponses(Buffer.concat(chunks).toString("latin1"));
      // Complete: wait for the close where it is expected (bounded), else a short grace for stray bytes.
      if (p.complete) arm(o.waitClose || p.closeHeader ? 1_500 : 40, () => finish(false));
      else arm(1_500, noAnswer);
    });
    sock.on("close", () => {
      closed = true;
      finish(false);
    });
    sock.on("error", () => {});
    let i = 0;
    const next = () => {
      if (done) return;
      if (i >= pieces.length) {
        if (o.halfClose) {
          halfClosed = true;
          sock.end();
        }
        if (chunks.length === 0) arm(1_500, noAnswer);
        return;
      }
      sock.write(pieces[i++]!, () => (o.gapMs > 0 ? setTimeout(next, o.gapMs) : next()));
    };
    sock.once("connect", next);
  });
}

// ---------------------------------------------------------------------------------------------------
// The generator.

type Rng = () => number;

/**
 * - ok: a valid request; must be 200 with the origin's echo of the body.
 * - reject: malformed; a 4xx or a close without an answer, never reaching the origin complete.
 * - either: the answer may go either way (a tolerated oddity); only the invariants hold.
 */
type Expect = "ok" | "reject" | "either";

interface Case {
  kind: string;
  expect: Expect;
  bytes: Buffer;
  /** The framing is at fault: a 4xx answer must close the connection. */
  mustClose?: boolean;
  /** For ok cases: the request body the origin must report. */
  body?: Buffer;
  /** The request is incomplete on purpose: half-close after writing. */
  halfClose?: boolean;
  /** The head reaches the origin before the error shows (a bad chunk mid-body): only completion is forbidden. */
  midBody?: boolean;
  /** A valid request with garbage pipelined behind it: its own answer first, then the close. */
  garbageBehind?: boolean;
}

const pick = <T,>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const B = (s: string) => Buffer.from(s, "latin1");
function randomBody(rng: Rng, max: number): Buffer {
  const b = Buffer.alloc(int(rng, 1, max));
  for (let i = 0; i < b.length; i++) b[i] = int(rng, 0, 255);
  return b;
}
function chunkedOf(rng: Rng, body: Buffer, ext = false): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off < body.length; ) {
    const n = Math.min(body.length - off, int(rng, 1, 64));
    parts.push(B(`${n.toString(16)}${ext ? ";x=y" : ""}\r\n`), body.subarray(off, off + n), B("\r\n"));
    off += n;
  }
  parts.push(B("0\r\n\r\n"));
  return Buffer.concat(parts);
}
/** A request that must never reach the origin, hidden where a parser that gets framing wrong would read it. */
const smuggled = (host: string, m: string) => `GET /SMUGGLED-${m} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

function generate(rng: Rng, host: string, m: string): Case {
  const path = `/fz/${m}`;
  const line = (method = "GET", target = path, version = "HTTP/1.1") => `${method} ${target} ${version}\r\n`;
  const hostH = `Host: ${host}\r\n`;
  const r = rng();
  // ~20% valid requests, in shapes the malformed ones mutate.
  if (r < 0.2) {
    const shape = int(rng, 0, 7);
    if (shape === 7) {
      const g = pick(rng, ["NOT HTTP\r\n\r\n", "GET /x HTTP/1.1\r\nHost: a b\r\nX\x00: y\r\n\r\n", "\x00\x01\x02\r\n\r\n", "GET / HTTP/9.9\r\n\r\n"]);
      return { kind: "valid GET, garbage pipelined behind", expect: "ok", garbageBehind: true, bytes: B(line() + hostH + "\r\n" + g), body: Buffer.alloc(0) };
    }
    if (shape === 0) return { kind: "valid GET", expect: "ok", bytes: B(line() + hostH + "\r\n"), body: Buffer.alloc(0) };
    if (shape === 1) {
      const body = randomBody(rng, 3000);
      return { kind: "valid POST CL", expect: "ok", bytes: Buffer.concat([B(line("POST") + hostH + `Content-Length: ${body.length}\r\n\r\n`), body]), body };
    }
    if (shape === 2) {
      const body = randomBody(rng, 3000);
      const trailer = rng() < 0.3;
      const chunked = chunkedOf(rng, body, rng() < 0.3);
      const tail = trailer ? Buffer.concat([chunked.subarray(0, chunked.length - 2), B("X-Trailer: t\r\n\r\n")]) : chunked;
      return { kind: "valid POST chunked", expect: "ok", bytes: Buffer.concat([B(line("PUT") + hostH + "Transfer-Encoding: chunked\r\n\r\n"), tail]), body };
    }
    if (shape === 3) {
      const body = randomBody(rng, 500);
      return { kind: "valid Expect 100-continue", expect: "ok", bytes: Buffer.concat([B(line("POST") + hostH + `Expect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`), body]), body };
    }
    if (shape === 4) return { kind: "valid absolute-form same host", expect: "ok", bytes: B(line("GET", `http://${host}${path}?q=1`) + hostH + "\r\n"), body: Buffer.alloc(0) };
    if (shape === 5) return { kind: "valid big header", expect: "ok", bytes: B(line() + hostH + `X-Big: ${"v".repeat(int(rng, 1000, 20_000))}\r\n\r\n`), body: Buffer.alloc(0) };
    return { kind: "valid HTTP/1.0", expect: "ok", bytes: B(line("GET", path, "HTTP/1.0") + hostH + "\r\n"), body: Buffer.alloc(0) };
  }
  const family = int(rng, 0, 7);
  switch (family) {
    case 0: {
      // Request lines.
      const v = int(rng, 0, 14);
      const bad: [string, Expect][] = [
        [line("G\x00T"), "reject"],
        [line("GET\t"), "reject"],
        // RFC 9112 §3: a recipient MAY split the request line on any whitespace run.
        [`GET  ${path} HTTP/1.1\r\n`, "either"],
        [line("GET", `${path}\x01x`), "reject"],
        [line("GET", `${path}\x7f`), "reject"],
        [line("GET", `${path}%00`), "reject"],
        [line("GET", `${path} x`), "reject"],
        [line("GET", `${path}/../x`), "reject"],
        [line("GET", `${path}\\x`), "reject"],
        [line("GET", "http://other.test" + path) + "", "reject"],
        [line("GET", "*"), "reject"],
        [line("OPTIONS", "*"), "reject"],
        [line("CONNECT", `${host}:443`), "reject"],
        [line("GET", `fz/${m}`), "reject"],
        [line("GET", path + "?" + "a".repeat(int(rng, 33_000, 70_000))), "reject"],
      ];
      const [l, e] = bad[v]!;
      return { kind: `request line #${v}`, expect: e, bytes: B(l + hostH + "\r\n") };
    }
    case 1: {
      // Versions.
      const ver = pick(rng, ["HTTP/9.9", "HTTP/1.2", "HTTP/2.0", "HTTP/3.0", "http/1.1", "HTTP/1.1x", "HTTP/11", "HTTP/1", "", "HTTP/1.1 extra", "HTTX/1.1", "HTTP/0.9"]);
      return { kind: `version ${JSON.stringify(ver)}`, expect: ver === "HTTP/1.2" || ver === "HTTP/2.0" || ver === "HTTP/0.9" ? "either" : "reject", bytes: B(`GET ${path} ${ver}\r\n` + hostH + "\r\n") };
    }
    case 2: {
      // Header names and values.
      const v = int(rng, 0, 15);
      const bad: [string, Expect, string][] = [
        ["X-A : b\r\n", "reject", "space before colon"],
        ["X\x00A: b\r\n", "reject", "NUL in name"],
        ["X A: b\r\n", "reject", "space in name"],
        ["X(A): b\r\n", "reject", "separator in name"],
        [": b\r\n", "reject", "empty name"],
        ["NoColon\r\n", "reject", "no colon"],
        ["X-A: b\x00c\r\n", "reject", "NUL in value"],
        ["X-A: b\rc\r\n", "reject", "bare CR in value"],
        ["X-A: b\r\n continued\r\n", "reject", "obs-fold"],
        [`Host: other.test\r\n`, "reject", "second Host"],
        [`Host: ${host}\r\n`, "reject", "same Host twice"],
        ["X-A: " + "x".repeat(int(rng, 33_000, 80_000)) + "\r\n", "reject", "header over the limit"],
        [Array.from({ length: int(rng, 2_200, 4_000) }, (_, i) => `X-${i}: ${"y".repeat(12)}\r\n`).join(""), "reject", "too many header bytes"],
        ["X-A: b\nX-B: c\r\n", "reject", "bare LF"],
        ["X-A: \x7f\r\n", "reject", "DEL in value"],
        ["X-\xff: b\r\n", "reject", "non-ASCII name"],
      ];
      const [hdr, e, what] = bad[v]!;
      const hostFirst = rng() < 0.5;
      return { kind: `header: ${what}`, expect: e, bytes: B(line() + (hostFirst ? hostH + hdr : hdr + hostH) + "\r\n") };
    }
    case 3: {
      // Host itself.
      const v = int(rng, 0, 5);
      const heads = ["", "Host:\r\n", "Host: a b\r\n", "Host: [::1\r\n", `Host: ${host}:99999\r\n`, `Host: ${host}\x01\r\n`];
      return { kind: `host #${v}`, expect: "reject", bytes: B(line() + heads[v]! + "\r\n") };
    }
    case 4: {
      // CL/TE ambiguity, with a request hidden where a wrong reading would find it.
      const hidden = smuggled(host, m);
      const body = `0\r\n\r\n${hidden}`;
      const v = int(rng, 0, 18);
      const heads: [string, string][] = [
        [`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`, "CL+TE"],
        [`Transfer-Encoding: chunked\r\nContent-Length: ${body.length}\r\n`, "TE+CL"],
        [`Content-Length: 5\r\nContent-Length: ${body.length}\r\n`, "two CLs"],
        [`Content-Length: 5, ${body.length}\r\n`, "CL list"],
        ["Content-Length: -1\r\n", "negative CL"],
        ["Content-Length: +5\r\n", "signed CL"],
        ["Content-Length: 0x10\r\n", "hex CL"],
        ["Content-Length: 99999999999999999999999\r\n", "huge CL"],
        ["Content-Length: 1e2\r\n", "exponent CL"],
        ["Transfer-Encoding: chunked, identity\r\n", "TE chunked,identity"],
        ["Transfer-Encoding: identity\r\n", "TE identity"],
        ["Transfer-Encoding: gzip\r\n", "TE gzip"],
        ["Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "TE twice"],
        ["Transfer-Encoding: xchunked\r\n", "TE xchunked"],
        ["Transfer-Encoding : chunked\r\n", "TE space before colon"],
        ["Transfer-Encoding: chunked\x0b\r\n", "TE with VT"],
        ["Transfer-Encoding:\r\n chunked\r\n", "TE obs-fold"],
      ];
      if (v === heads.length) {
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
        return { kind: "framing: TE on HTTP/1.0", expect: "reject", mustClose: true, bytes: B(line("POST", path, "HTTP/1.0") + hostH + "Transfer-Encoding: chunked\r\n\r\n" + body) };
      }
      if (v === heads.length + 1) {
        // Past Node's default 2000-header cut: the second Host or the TE must still be seen.
        const many = Array.from({ length: 2_000 }, (_, k) => `X-${k}: y\r\n`).join("");
        const late = pick(rng, ["Host: other.test\r\n", `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`, `Host: ${host}\r\n`]);
        return { kind: "framing: after 2000 headers", expect: "reject", mustClose: true, bytes: B(line("POST") + hostH + many + late + "\r\n" + body) };
      }
      const [hs, what] = heads[v]!;
      const method = pick(rng, ["POST", "GET", "PUT"]);
      return { kind: `framing: ${what}`, expect: "reject", mustClose: true, bytes: B(line(method) + hostH + hs + "\r\n" + body) };
    }
    case 5: {
      // Chunked bodies that go wrong after a valid head (the head may reach the origin, its end never).
      const head = line("POST") + hostH + "Transfer-Encoding: chunked\r\n\r\n";
      const v = int(rng, 0, 10);
      const bodies: [string, string, boolean][] = [
        ["zz\r\nabc\r\n0\r\n\r\n", "bad chunk size", false],
        ["fffffffffffffffffff\r\nabc\r\n0\r\n\r\n", "overflowing chunk size", false],
        ["-1\r\nabc\r\n0\r\n\r\n", "negative chunk size", false],
        ["3\r\nabcdef\r\n0\r\n\r\n", "chunk longer than its size", false],
        ["3\r\nabc0\r\n\r\n", "no CRLF after chunk data", false],
        ["3;\x00\r\nabc\r\n0\r\n\r\n", "NUL in chunk extension", false],
        ["3\nabc\n0\n\n", "bare LF chunk lines", false],
        ["3\r\nabc\r\n", "missing final chunk", true],
        ["3\r\nab", "truncated chunk", true],
        ["3\r\nabc\r\n0\r\nX-T\x00: a\r\n\r\n", "bad trailer", false],
        [" 3\r\nabc\r\n0\r\n\r\n", "space before chunk size", false],
      ];
      const [b, what, halfClose] = bodies[v]!;
      return { kind: `chunked: ${what}`, expect: "reject", midBody: true, halfClose, bytes: B(head + b + (halfClose ? "" : smuggled(host, m))) };
    }
    case 6: {
      // Content-Length bodies cut short, and Expect variants.
      const v = int(rng, 0, 4);
      if (v === 0) return { kind: "CL body cut short", expect: "reject", midBody: true, halfClose: true, bytes: B(line("POST") + hostH + "Content-Length: 100\r\n\r\nabc") };
      const expects = ["Expect: 100-continue, foo\r\n", "Expect: foo\r\n", "Expect: 100-continue\r\nExpect: 100-continue\r\n", "Expect: 200-ok\r\n"];
      return { kind: `expect #${v}`, expect: "reject", bytes: B(line("POST") + hostH + expects[v - 1]! + "Content-Length: 3\r\n\r\nabc") };
    }
    default: {
      // Garbage.
      const v = int(rng, 0, 5);
      const g = [
        randomBody(rng, 200).toString("latin1") + "\r\n\r\n",
        "\r\n\r\n\r\n",
        "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + "x".repeat(40),
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GET\r\n\r\n",
        `GET ${path}\r\n\r\n`,
      ];
      // Empty lines before a request are skipped (RFC 9112 §2.2): that one waits for more, so end it.
      return { kind: `garbage #${v}`, expect: "reject", halfClose: v === 1, bytes: B(g[v]!) };
    }
  }
}

/** Whole, split at random offsets, or (small requests, now and then) byte by byte. */
function delivery(rng: Rng, bytes: Buffer): { pieces: Buffer[]; gapMs: number; how: string } {
  const r = rng();
  if (r < 0.04 && bytes.length <= 400) return { pieces: Array.from(bytes, (b) => Buffer.from([b])), gapMs: 1, how: "bytewise" };
  if (r < 0.4 && bytes.length > 2) {
    const cuts = Array.from({ length: int(rng, 1, 4) }, () => int(rng, 1, bytes.length - 1)).sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let prev = 0;
    for (const c of [...cuts, bytes.length]) {
      if (c > prev) pieces.push(bytes.subarray(prev, c));
      prev = c;
    }
    return { pieces, gapMs: int(rng, 0, 3), how: `split ${cuts.join(",")}` };
  }
  return { pieces: [bytes], gapMs: 0, how: "whole" };
}

// ---------------------------------------------------------------------------------------------------

describe(`public listener fuzz (seed ${SEED}, scale ${SCALE})`, () => {
  let origin: Awaited<ReturnType<typeof startRecordingOrigin>>;
  let h: Harness;

  before(async () => {
    origin = await startRecordingOrigin();
    h = await Harness.start({
      agents: [{ id: AGENT, labels: { site: "fuzz" } }],
      listeners: [
        {
          routes: [
            { hosts: ["direct.test"], pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] },
            { hosts: ["agent.test"], pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.AGENT, url: origin.url, agentSelector: { site: "fuzz" }, enabled: true }] },
          ],
        },
      ],
    });
    await h.connectAgent(AGENT);
    console.log(`fuzz-public: FUZZ_SEED=${SEED} FUZZ_SCALE=${SCALE} (${CASES_PER_TARGET} cases per target)`);
  });
  after(async () => {
    await h?.close();
    await origin?.close();
  });

  for (const [target, host] of [
    ["direct", "direct.test"],
    ["agent", "agent.test"],
  ] as const) {
    it(`malformed requests through the ${target} target: 4xx or a close, never a 5xx, nothing smuggled`, { timeout: 600_000 * SCALE }, async () => {
      const rng = seeded(SEED ^ (target === "agent" ? 0x5a5a5a5a : 0));
      const failures: string[] = [];
      const outcomes = new Map<string, { c: Case; o: Outcome; how: string }>();
      const counts: Record<string, number> = {};
      const tolerated = new Set<string>();
      const started = Date.now();
      const port = h.port();
      const show = (c: Case, how: string, o: Outcome) =>
        `  [${c.kind}] (${how})\n  request: ${JSON.stringify(c.bytes.toString("latin1").slice(0, 400))}${c.bytes.length > 400 ? ` …(${c.bytes.length} bytes)` : ""}\n  reply:   ${JSON.stringify(o.raw.slice(0, 300))}`;

      const liveness = async (i: number) => {
        const m = `${target}-live-${i}`;
        const o = await exchange(port, [B(`GET /fz/${m} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)], { gapMs: 0, halfClose: false, waitClose: false });
        if (o.finals[0] !== 200) failures.push(`liveness after case ${i}: ${JSON.stringify(o.raw.slice(0, 200))}`);
      };

      for (let i = 0; i < CASES_PER_TARGET; i++) {
        const m = `${target}-${SEED.toString(16)}-${i}`;
        const c = generate(rng, host, m);
        const d = delivery(rng, c.bytes);
        const o = await exchange(port, d.pieces, { gapMs: d.gapMs, halfClose: c.halfClose === true, waitClose: c.mustClose === true || c.garbageBehind === true });
        outcomes.set(m, { c, o, how: d.how });
        const status = o.finals[0] ?? 0;
        counts[`${c.expect}:${status}`] = (counts[`${c.expect}:${status}`] ?? 0) + 1;
        if (c.expect === "either" || status === 0) tolerated.add(`${c.kind}→${status}`);
        const bad = (why: string) => failures.push(`case ${i} ${why}\n${show(c, d.how, o)}`);
        if (o.statuses.some((s) => s >= 500)) bad("got a 5xx");
        if (o.hung) bad("hung: no answer and no close, even after a half-close");
        if (c.expect === "ok") {
          if (status !== 200) bad(`valid request answered ${status}`);
          else {
            let echo: { bytes?: number; sha256?: string } = {};
            try {
              echo = JSON.parse(o.body) as typeof echo;
            } catch {
              // judged below
            }
            if (echo.bytes !== c.body!.length || echo.sha256 !== createHash("sha256").update(c.body!).digest("hex")) bad("valid request: the origin got a different body");
          }
        } else if (c.expect === "reject") {
          if (status !== 0 && (status < 400 || status >= 500)) bad(`malformed request answered ${status}`);
          if (status === 0 && !o.closed) bad("malformed request: neither an answer nor a close");
        }
        // Its own answer first; then, if that answer kept the connection open, a 4xx for the garbage.
        if (c.garbageBehind && (o.finals.length > 2 || (o.finals.length === 2 && !(o.finals[1]! >= 400 && o.finals[1]! < 500)) || !o.closed)) bad(`garbage behind a valid request: answers ${o.finals.join(",")}, closed=${o.closed}`);
        if (c.mustClose && status >= 400 && status < 500 && !o.closed) bad("framing error answered without closing the connection");
        if (o.finals.length > 1 && status >= 400) bad(`a second response after a ${status}: ${o.finals.join(",")}`);
        if (i % LIVENESS_EVERY === LIVENESS_EVERY - 1) await liveness(i);
      }
      await liveness(CASES_PER_TARGET);
      // Let in-flight upstream requests settle before judging what the origin completed.
      await new Promise((r) => setTimeout(r, 200));

      for (const s of origin.seen) {
        if (s.url.includes("SMUGGLED")) failures.push(`smuggled request reached the origin: ${s.method} ${s.url}`);
        const m = /\/fz\/([^/?]+)/.exec(s.url)?.[1];
        const got = m === undefined ? undefined : outcomes.get(m);
        if (got === undefined) continue;
        const status = got.o.finals[0] ?? 0;
        if (s.complete && status !== 200) failures.push(`origin completed a request Warren answered ${status}\n${show(got.c, got.how, got.o)}`);
        if (got.c.expect === "reject" && !got.c.midBody) failures.push(`origin saw a malformed request (${s.method} ${s.url}, complete=${s.complete})\n${show(got.c, got.how, got.o)}`);
        if (got.c.expect === "reject" && s.complete) failures.push(`origin completed a malformed request (${s.method} ${s.url})\n${show(got.c, got.how, got.o)}`);
      }
      const ms = Date.now() - started;
      console.log(`fuzz-public ${target}: ${CASES_PER_TARGET} cases in ${ms} ms; expect:status counts ${JSON.stringify(counts)}; tolerated, and closes without an answer: ${[...tolerated].sort().join("; ")}`);
      assert.equal(failures.length, 0, `${failures.length} failures (FUZZ_SEED=${SEED}):\n${failures.slice(0, 15).join("\n")}`);
    });
  }
});
