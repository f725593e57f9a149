import { spawn } from "node:child_process";
import { parseRawReply, type RawReply } from "./raw-http.ts";

export interface CurlResult extends RawReply {
  readonly exitCode: number | null;
  readonly stderr: string;
}

/** Runs the real curl with its default headers (plus `args`), -i so every response head is kept. */
export function curl(args: string[], timeoutSec = 60): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const p = spawn("curl", ["-sS", "-i", "--max-time", String(timeoutSec), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on("data", (d: Buffer) => out.push(d));
    p.stderr.on("data", (d: Buffer) => err.push(d));
    p.on("error", reject);
    p.on("close", (exitCode) => resolve({ ...parseRawReply(Buffer.concat(out).toString("latin1")), exitCode, stderr: Buffer.concat(err).toString() }));
  });
}
