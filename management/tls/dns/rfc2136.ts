// DNS-01 through RFC 2136 dynamic updates (BIND, Knot, PowerDNS, Windows DNS…), signed with TSIG
// (RFC 8945). One UPDATE adds the TXT record, another deletes exactly that record afterwards. UDP
// first; TCP when the answer is truncated or UDP gets no answer (some servers drop UDP updates, and a
// firewall may too). Every answer's RCODE is checked and its TSIG MAC verified, so a NOTAUTH/REFUSED or
// a wrong key reaches the operator by name.
import dgram from "node:dgram";
import net from "node:net";
import { randomInt } from "node:crypto";
import type { DnsProvider, DnsTxtHandle } from "./provider.ts";
import { buildUpdate, parseMessage, RCODE_NAMES, signTsig, verifyTsig, type TsigKey, type TxtUpdate } from "./wire.ts";

export interface Rfc2136Options {
  /** host or host:port or [v6]:port; port 53 by default. */
  server: string;
  zone: string;
  key: TsigKey;
  /** Per attempt (UDP, then TCP). */
  timeoutMs?: number | undefined;
  /** Time for secondaries to pick the change up (NOTIFY + transfer). */
  propagationDelayMs?: number | undefined;
  /** For tests: the clock TSIG signs with (seconds since the epoch). */
  now?: (() => number) | undefined;
}

export class Rfc2136Error extends Error {
  override readonly name = "Rfc2136Error";
}

export function parseServer(server: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 53 };
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(server);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
  if (net.isIPv6(server)) return { host: server, port: 53 };
  throw new Rfc2136Error(`invalid DNS server address ${JSON.stringify(server)} (host, host:port or [v6]:port)`);
}

export class Rfc2136DnsProvider implements DnsProvider {
  readonly kind = "rfc2136";
  readonly propagationDelayMs: number;
  private readonly host: string;
  private readonly port: number;
  private readonly zone: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: Rfc2136Options) {
    ({ host: this.host, port: this.port } = parseServer(opts.server));
    this.zone = opts.zone.toLowerCase().replace(/\.$/, "");
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.propagationDelayMs = opts.propagationDelayMs ?? 5000;
  }

  async setTxt(fqdn: string, value: string, signal?: AbortSignal): Promise<DnsTxtHandle> {
    const name = this.inZone(fqdn);
    await this.update([{ action: "add", name, value, ttl: 120 }], signal);
    return { fqdn: name, value };
  }

  async removeTxt(handle: DnsTxtHandle, signal?: AbortSignal): Promise<void> {
    await this.update([{ action: "delete", name: this.inZone(handle.fqdn), value: handle.value }], signal);
  }

  private inZone(fqdn: string): string {
    const name = fqdn.toLowerCase().replace(/\.$/, "");
    if (name !== this.zone && !name.endsWith(`.${this.zone}`)) throw new Rfc2136Error(`${name} is not inside the zone ${this.zone}`);
    return name;
  }

  /** Sends one signed UPDATE and checks the answer. */
  async update(updates: TxtUpdate[], signal?: AbortSignal): Promise<void> {
    const id = randomInt(0, 0x10000);
    const now = this.opts.now?.() ?? Math.floor(Date.now() / 1000);
    const { signed, mac } = signTsig(buildUpdate(id, this.zone, updates), this.opts.key, now);
    const where = `${this.host}:${this.port}`;
    let answer: Buffer;
    try {
      answer = await this.udp(signed, id, signal);
      if (parseMessage(answer).truncated) answer = await this.tcp(signed, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      // No UDP answer: try TCP before giving up (RFC 2136 allows either).
      try {
        answer = await this.tcp(signed, signal);
      } catch (tcpErr) {
        throw new Rfc2136Error(`DNS UPDATE to ${where} got no answer (UDP: ${msg(err)}; TCP: ${msg(tcpErr)})`);
      }
    }
    const parsed = parseMessage(answer);
    if (parsed.id !== id || !parsed.isResponse) throw new Rfc2136Error(`DNS UPDATE to ${where}: the answer does not match the request`);
    const tsigError = parsed.tsig?.error ?? 0;
    if (parsed.rcode !== 0 || tsigError !== 0) {
      const rcode = RCODE_NAMES[parsed.rcode] ?? `RCODE ${parsed.rcode}`;
      const why = tsigError !== 0 ? ` (TSIG ${RCODE_NAMES[tsigError] ?? tsigError})` : "";
      throw new Rfc2136Error(`DNS UPDATE of zone ${this.zone} at ${where} refused: ${rcode}${why}${hint(parsed.rcode, tsigError)}`);
    }
    try {
      verifyTsig(answer, parsed, this.opts.key, mac);
    } catch (err) {
      throw new Rfc2136Error(`DNS UPDATE to ${where}: ${msg(err)}`);
    }
  }

  /**
   * One exchange over `open`'s socket: settles with the first answer or error, or after the timeout
   * or the caller's abort, and always closes the socket.
   */
  private exchange(signal: AbortSignal | undefined, open: (done: (err: Error | null, data?: Buffer) => void) => { close(): void }): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let socket: { close(): void } | undefined;
      let settled = false;
      const done = (err: Error | null, data?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        socket?.close();
        if (err) reject(err);
        else resolve(data!);
      };
      const onAbort = () => done(signal!.reason instanceof Error ? signal!.reason : new Rfc2136Error("aborted"));
      const timer = setTimeout(() => done(new Rfc2136Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      socket = open(done);
      // Settled while opening (a synchronous error): close what was opened.
      if (settled) socket.close();
    });
  }

  private udp(message: Buffer, id: number, signal: AbortSignal | undefined): Promise<Buffer> {
    return this.exchange(signal, (done) => {
      const socket = dgram.createSocket(net.isIPv6(this.host) ? "udp6" : "udp4");
      socket.on("error", (err) => done(err));
      socket.on("message", (data) => {
        // Ignore strays: only our ID answers.
        if (data.length >= 2 && data.readUInt16BE(0) === id) done(null, data);
      });
      socket.send(message, this.port, this.host);
      return { close: () => socket.close() };
    });
  }

  private tcp(message: Buffer, signal: AbortSignal | undefined): Promise<Buffer> {
    return this.exchange(signal, (done) => {
      const socket = net.connect({ host: this.host, port: this.port });
      let buf = Buffer.alloc(0);
      socket.on("error", (err) => done(err));
      socket.on("connect", () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(message.length);
        socket.write(Buffer.concat([len, message]));
      });
      socket.on("data", (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(null, buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      socket.on("end", () => done(new Rfc2136Error("connection closed before a full answer")));
      return { close: () => socket.destroy() };
    });
  }
}

function hint(rcode: number, tsigError: number): string {
  if (tsigError === 16 || tsigError === 17) return " — the TSIG key name, algorithm or secret does not match the server's";
  if (tsigError === 18) return " — this machine's clock differs from the DNS server's by more than 5 minutes";
  if (rcode === 9) return " — the server is not authoritative for the zone or does not accept this key";
  if (rcode === 5) return " — the server's update policy does not allow this key to change this name";
  if (rcode === 10) return " — the name is outside the zone";
  return "";
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
