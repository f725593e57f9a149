// Interop with the Go reference, hashicorp/yamux (Debian's golang-github-hashicorp-yamux-dev), over real TCP.
// The Go side is test/interop/yamux-peer/main.go, built here in GOPATH mode when missing or stale.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { once } from "node:events";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { YamuxError, YamuxSession, type YamuxStream } from "../../tunnel/yamux/index.ts";
import { prng, readAll, sha256, streamError, whenClosed } from "./helpers.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const peerSrc = join(root, "test/interop/yamux-peer/main.go");
const peerBin = join(root, "test/interop/bin/yamux-peer");
const GOPATH = process.env.WARREN_YAMUX_GOPATH ?? "/usr/share/gocode";
const MiB = 1024 * 1024;
/** Each test takes well under a second; this only turns a hang into a failure that names the test. */
const HANG = { timeout: 30_000 };

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && existsSync(join(dir, cmd)));
}

function skipReason(): string | undefined {
  const how = "install golang-go and golang-github-hashicorp-yamux-dev (apt-get install -y golang-go golang-github-hashicorp-yamux-dev)";
  if (!onPath("go")) return `Yamux interop with hashicorp/yamux NOT RUN: \`go\` is not on PATH; ${how}`;
  if (!existsSync(join(GOPATH, "src/github.com/hashicorp/yamux/session.go"))) {
    return `Yamux interop with hashicorp/yamux NOT RUN: ${GOPATH}/src/github.com/hashicorp/yamux is missing; ${how}`;
  }
  return undefined;
}

const skip = skipReason();
if (skip) process.stderr.write(`\n${"!".repeat(100)}\n!! ${skip}\n${"!".repeat(100)}\n\n`);

function buildPeer(): void {
  if (existsSync(peerBin) && statSync(peerBin).mtimeMs >= statSync(peerSrc).mtimeMs) return;
  mkdirSync(join(root, "test/interop/bin"), { recursive: true });
  const r = spawnSync("go", ["build", "-o", peerBin, "./test/interop/yamux-peer"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, GO111MODULE: "off", GOPATH, GOFLAGS: "", GOCACHE: process.env.GOCACHE ?? join(tmpdir(), "warren-go-build-cache") },
  });
  if (r.status !== 0) throw new Error(`building the Go yamux peer failed:\n${r.stderr}${r.stdout}`);
}

/** The Go process and a line reader on its control stream. */
class GoPeer {
  stderr = "";
  readonly exited: Promise<number | null>;
  private lines: string[] = [];
  private waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  private gone: Error | undefined;

  private constructor(readonly proc: ChildProcess) {
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
    // A peer that dies must fail the waiting test at once, not leave it hanging.
    void this.exited.then((code) => this.fail(new Error(`yamux-peer exited (${code}); stderr:\n${this.stderr}`)));
  }

  private fail(err: Error): void {
    this.gone ??= err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  static async listen(args: string[] = []): Promise<{ peer: GoPeer; port: number }> {
    const proc = spawn(peerBin, ["-listen", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const peer = new GoPeer(proc);
    let out = "";
    const port = await new Promise<number>((resolve, reject) => {
      proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const m = /LISTEN (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      proc.once("exit", (code) => reject(new Error(`yamux-peer exited (${code}): ${peer.stderr}`)));
    });
    return { peer, port };
  }

  static dial(port: number, args: string[] = []): GoPeer {
    return new GoPeer(spawn(peerBin, ["-dial", `127.0.0.1:${port}`, ...args], { stdio: ["ignore", "ignore", "pipe"] }));
  }

  /** Attaches the control stream: 'C', then one line per command and answer. */
  attachControl(ctl: YamuxStream): void {
    ctl.on("error", () => {}); // it dies with the session at the end of every test
    ctl.once("close", () => this.fail(new Error(`control stream closed; yamux-peer stderr:\n${this.stderr}`)));
    ctl.write("C");
    let buf = "";
    ctl.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w.resolve(line);
        else this.lines.push(line);
      }
    });
    this.ctl = ctl;
  }
  private ctl: YamuxStream | undefined;

  nextLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async command(cmd: string): Promise<string> {
    this.ctl!.write(`${cmd}\n`);
    return this.nextLine();
  }

  /** "[ERR]" lines hashicorp/yamux logged: each one is a conformance failure on our side or theirs. */
  errors(): string[] {
    return this.stderr.split("\n").filter((l) => l.includes("[ERR]"));
  }
}

interface Setup {
  session: YamuxSession;
  peer: GoPeer;
  finish(): Promise<void>;
}

async function connect(role: "client" | "server", args: string[] = []): Promise<Setup> {
  let session: YamuxSession;
  let peer: GoPeer;
  if (role === "client") {
    const l = await GoPeer.listen(args);
    peer = l.peer;
    const socket = net.connect(l.port, "127.0.0.1");
    await once(socket, "connect");
    session = new YamuxSession(socket, { role: "client" });
  } else {
    const server = net.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    peer = GoPeer.dial((server.address() as net.AddressInfo).port, args);
    const [socket] = (await once(server, "connection")) as [net.Socket];
    server.close();
    session = new YamuxSession(socket, { role: "server" });
  }
  session.on("stream", (s) => answerGoStream(s));
  peer.attachControl(session.openStream());
  return {
    session,
    peer,
    async finish() {
      session.close();
      const code = await peer.exited;
      if (process.env.yamux_interop_verbose) process.stderr.write(`--- yamux-peer (${role}) stderr ---\n${peer.stderr}`);
      assert.deepEqual(peer.errors(), [], "hashicorp/yamux logged no errors");
      assert.equal(code, 0, `yamux-peer exit code; stderr:\n${peer.stderr}`);
    },
  };
}

/** Streams the Go side opens: u64 size, then that many bytes, which we echo back before our FIN. */
function answerGoStream(s: YamuxStream): void {
  let header = Buffer.alloc(0);
  let left = -1;
  s.on("data", (c: Buffer) => {
    if (left < 0) {
      header = Buffer.concat([header, c]);
      if (header.length < 8) return;
      left = Number(header.readBigUInt64BE(0));
      c = header.subarray(8);
    }
    left -= c.length;
    if (c.length > 0 && !s.write(c)) {
      s.pause();
      s.once("drain", () => s.resume());
    }
    if (left === 0) s.end();
  });
}

function sizes(count: number, seed: number): number[] {
  const rand = prng(seed);
  const out = [1, 8 * MiB];
  while (out.length < count) out.push(Math.max(1, Math.round(Math.exp(rand() * Math.log(8 * MiB)))));
  return out;
}

/** One stream of the 100: E(cho), H(ash) or G(enerate), checked with SHA-256. */
async function exercise(session: YamuxSession, kind: "E" | "H" | "G", data: Buffer, seed: number): Promise<void> {
  const s = session.openStream();
  if (kind === "G") {
    const head = Buffer.alloc(17);
    head.write("G");
    head.writeBigUInt64BE(BigInt(data.length), 1);
    head.writeBigInt64BE(BigInt(seed), 9);
    s.write(head);
    // Go writes, then FINs while our side is still open.
    const got = await readAll(s);
    assert.equal(got.length, data.length + 32, `G stream ${s.id}: length`);
    assert.equal(sha256(got.subarray(0, data.length)), got.subarray(data.length).toString("hex"), `G stream ${s.id}: sha`);
    // Our write side still works after the peer's FIN; then we FIN too and the stream is gone.
    await new Promise<void>((resolve, reject) => s.write("after your FIN", (err) => (err ? reject(err) : resolve())));
    s.end();
    await whenClosed(s);
    return;
  }
  s.write(kind);
  const reading = readAll(s);
  for (let pos = 0; pos < data.length; pos += 256 * 1024) {
    if (!s.write(data.subarray(pos, pos + 256 * 1024))) await once(s, "drain");
  }
  s.end();
  const got = await reading;
  if (kind === "E") assert.equal(sha256(got), sha256(data), `E stream ${s.id}: ${data.length} bytes echoed`);
  else assert.equal(got.toString(), sha256(data), `H stream ${s.id}`);
  await whenClosed(s);
}

// A skipped test (not just a skipped suite) so the run's summary counts it.
if (skip) it("interop with hashicorp/yamux (Go reference)", { skip }, () => {});
else describe("interop with hashicorp/yamux (Go reference)", () => {
  let pool: Buffer;
  before(() => {
    buildPeer();
    pool = randomBytes(9 * MiB);
  });
  const live: Setup[] = [];
  after(() => {
    for (const s of live) {
      s.session.close();
      s.peer.proc.kill();
    }
  });

  for (const role of ["client", "server"] as const) {
    describe(`Warren as ${role}`, () => {
      it("100 concurrent streams, 1 B to 8 MiB, echo / hash / generate, SHA-256 checked; half-close both ways", HANG, async () => {
        const setup = await connect(role);
        live.push(setup);
        const { session, peer } = setup;
        const rand = prng(role === "client" ? 11 : 12);
        const kinds = ["E", "H", "G"] as const;
        await Promise.all(
          sizes(100, role === "client" ? 1 : 2).map((size, i) => {
            const off = Math.floor(rand() * (pool.length - size));
            return exercise(session, kinds[i % 3]!, pool.subarray(off, off + size), i + 1);
          }),
        );
        assert.equal(await peer.command("streams 1"), "streams 1", "only the control stream is left on the Go side");
        assert.equal(session.streamCount, 1);
        await setup.finish();
      });

      it("streams opened by Go (16 MiB window: SYN/ACK carry large credit) are accepted and echoed; pings both ways", HANG, async () => {
        const setup = await connect(role, ["-window", String(16 * MiB)]);
        live.push(setup);
        const { session, peer } = setup;
        assert.match(await peer.command("open 30 1048576 5"), /^open-ok 30$/);
        assert.match(await peer.command("ping"), /^pong \d+$/);
        const rtt = await session.ping();
        assert.ok(rtt > 0);
        assert.equal(await peer.command("streams 1"), "streams 1");
        await session.ping();
        assert.equal(session.streamCount, 1);
        await setup.finish();
      });

      it("RST: a reset from Warren reaches Go's reader and Go's blocked writer", HANG, async () => {
        const setup = await connect(role);
        live.push(setup);
        const { session, peer } = setup;
        const r = session.openStream();
        r.write("R some bytes");
        await once(r, "data"); // Go's handler has read the command
        r.destroy();
        assert.equal(await peer.nextLine(), `rst ${r.id} connection reset`);

        const w = session.openStream();
        w.write("W");
        let got = 0;
        await new Promise<void>((resolve) => {
          w.on("data", (c: Buffer) => {
            got += c.length;
            if (got >= MiB) {
              w.pause();
              resolve();
            }
          });
        });
        w.destroy();
        assert.equal(await peer.nextLine(), `wrst ${w.id} connection reset`);
        assert.equal(await peer.command("streams 1"), "streams 1");

        await setup.finish();
      });

      it("RST from Go: SYNs beyond its accept backlog are reset; the queued ones proceed", HANG, async () => {
        const setup = await connect(role, ["-backlog", "4"]);
        live.push(setup);
        const { session, peer } = setup;
        assert.equal(await peer.command("pause-accept"), "pause-ok");
        const streams = Array.from({ length: 10 }, () => {
          const s = session.openStream();
          s.on("error", () => {}); // checked through s.errored below
          s.write("E");
          return s;
        });
        await session.ping(); // Go sent its RSTs before this pong; we destroy a stream as its RST is parsed
        // Go's backlog holds four and its accept loop (if parked on the channel when the first SYN lands) one
        // more: the other five or six are refused.
        const refused = streams.filter((s) => s.destroyed);
        assert.ok(refused.length === 5 || refused.length === 6, `${refused.length} refused`);
        for (const s of refused) {
          assert.ok(s.errored instanceof YamuxError && s.errored.code === "yamux_stream_reset", String(s.errored));
        }
        assert.equal(await peer.command("resume-accept"), "resume-ok");
        const alive = streams.filter((s) => !s.destroyed);
        const echoes = await Promise.all(
          alive.map(async (s, i) => {
            s.end(`survivor ${i}`);
            return (await readAll(s)).toString() === `survivor ${i}`;
          }),
        );
        assert.deepEqual(echoes, Array(alive.length).fill(true));
        assert.ok(peer.stderr.includes("backlog exceeded"), "Go reports the reset reason");
        await setup.finish();
      });

      it("go-away from Go: our openStream() fails, open streams and Go's opens keep working", HANG, async () => {
        const setup = await connect(role);
        live.push(setup);
        const { session, peer } = setup;
        const before = session.openStream();
        before.write("E1");
        assert.equal(await peer.command("goaway"), "goaway-ok");
        assert.equal(session.remoteGoAway, true);
        assert.throws(() => session.openStream(), (err: unknown) => err instanceof YamuxError && err.code === "yamux_go_away");
        before.end("23");
        assert.equal((await readAll(before)).toString(), "123");
        assert.match(await peer.command("open 3 1000 9"), /^open-ok 3$/);
        await setup.finish();
      });

      it("go-away from Warren: Go's OpenStream fails, open streams keep working", HANG, async () => {
        const setup = await connect(role);
        live.push(setup);
        const { session, peer } = setup;
        const before = session.openStream();
        before.write("E1");
        session.goAway();
        assert.equal(await peer.command("open 1 10 1"), "open-err remote end is not accepting connections");
        before.end("23");
        assert.equal((await readAll(before)).toString(), "123");
        await setup.finish();
      });
    });
  }
});
