// A real redis-server on a free loopback port, for the rate-limit store tests and bench. Readiness is
// its "Ready to accept connections" line confirmed by a PING, never a sleep. stop({ kill: true }) is
// "Redis died" (SIGKILL), pause() is "Redis hung" (SIGSTOP), restart() comes back on the same port.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import net from "node:net";
import { freePort } from "./agent-process.ts";

export const REDIS_SERVER = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";

/** Why Redis tests cannot run here, or false when they can (for node:test's `skip`). */
export const redisMissing: string | false = existsSync(REDIS_SERVER) ? false : `redis-server not installed (${REDIS_SERVER}); .ci/run installs it`;

export class RedisServer {
  private child: ChildProcess | undefined;
  private output = "";

  private constructor(readonly port: number) {}

  /** On `port`, or a free one. */
  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    this.output = "";
    const child = spawn(REDIS_SERVER, ["--save", "", "--appendonly", "no", "--port", String(this.port), "--bind", "127.0.0.1", "--loglevel", "notice"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes("Ready to accept connections")) resolve();
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("error", reject);
      child.once("exit", (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${this.output}`)));
    });
    await ready;
    await ping(this.port);
  }

  /** Stops the server: SHUTDOWN-like SIGTERM, or SIGKILL to simulate a crash. */
  async stop(options: { kill?: boolean } = {}): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.resume();
    const exited = once(child, "exit");
    child.kill(options.kill ? "SIGKILL" : "SIGTERM");
    await exited;
  }

  /** Starts it again on the same port (empty: it saves nothing). */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Freezes the process: connections stay open, nothing answers. */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  resume(): void {
    this.child?.kill("SIGCONT");
  }
}

/** Sends PING and resolves on +PONG. */
export function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
    let reply = "";
    socket.on("data", (d) => {
      reply += d.toString();
      if (reply.includes("\r\n")) {
        socket.destroy();
        if (reply.startsWith("+PONG")) resolve();
        else reject(new Error(`redis answered PING with ${JSON.stringify(reply)}`));
      }
    });
    socket.on("error", reject);
  });
}
