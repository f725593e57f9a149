import type { Duplex } from "node:stream";

/**
 * Joins two byte streams into one pipe (an upgraded connection, a raw tunnel stream): data flows
 * both ways with backpressure (pipe), and an error or close on either side destroys the other.
 */
export function splice(a: Duplex, b: Duplex): void {
  a.on("error", () => b.destroy());
  b.on("error", () => a.destroy());
  a.on("close", () => b.destroy());
  b.on("close", () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}
