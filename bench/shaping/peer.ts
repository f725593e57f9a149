// The shaping bench's other side, in its own process (forked by run.ts with IPC) so the proxy's
// RSS is the proxy's alone: the test suite's node:http origin (/download, /upload) and WebSocket
// echo, and the client that drives each phase through the proxy.
// Sends {http, ws} URLs when listening; answers {cmd, proxy, bytes} with {bytes}; exits on disconnect.
import { Readable } from "node:stream";
import { request, WebSocket } from "undici";
import { startOrigin, startWebSocketEcho } from "../../test/helpers/origins.ts";

const KiB = 1024;
/** The echo origin takes frames up to 64 KiB. */
const WS_MESSAGE = 60 * KiB;
const WS_WINDOW = 8;

async function download(proxy: string, total: number): Promise<number> {
  const r = await request(`${proxy}/download?bytes=${total}`);
  let n = 0;
  for await (const c of r.body) n += (c as Buffer).length;
  return n;
}

async function upload(proxy: string, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * KiB, 5);
  let left = total;
  const body = new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const part = chunk.subarray(0, Math.min(chunk.length, left));
      left -= part.length;
      this.push(part);
    },
  });
  const r = await request(`${proxy}/upload`, { method: "POST", body, headers: { "content-length": String(total) } });
  return ((await r.body.json()) as { bytes: number }).bytes;
}

function websocket(proxy: string, total: number): Promise<number> {
  const count = Math.floor(total / WS_MESSAGE);
  const msg = Buffer.alloc(WS_MESSAGE, 7);
  const sock = new WebSocket(`${proxy.replace("http", "ws")}/ws`);
  sock.binaryType = "arraybuffer";
  return new Promise<number>((resolve, reject) => {
    let sent = 0;
    let got = 0;
    let bytes = 0;
    // A window of messages in flight: the client must not be the one holding the whole body.
    const fill = () => {
      while (sent < count && sent - got < WS_WINDOW) {
        sock.send(msg);
        sent++;
      }
    };
    sock.onopen = fill;
    sock.onmessage = (ev) => {
      bytes += (ev.data as ArrayBuffer).byteLength;
      if (++got === count) {
        sock.close();
        resolve(bytes);
      } else fill();
    };
    sock.onerror = () => reject(new Error("websocket error"));
  });
}

const PHASES = { download, upload, websocket };

const http = await startOrigin("bench");
const ws = await startWebSocketEcho();
process.on("message", (m: { cmd: keyof typeof PHASES; proxy: string; bytes: number }) => {
  void PHASES[m.cmd](m.proxy, m.bytes).then((bytes) => process.send!({ bytes }));
});
process.send!({ http: http.url, ws: ws.url });
process.on("disconnect", () => process.exit(0));
