// An agent idles for most of its life. Its start-up code (the protobuf descriptor boot, the key and
// CSR, enrollment) runs once, yet is hot enough for V8 to compile parts of it with Sparkplug and
// TurboFan, and once a compiler has run its own code stays resident: ~5 MB of the node executable's
// pages for an idle agent (bench/agent-rss: 57.0 MB → 52.1 MB with both held back). So the agent
// starts with the two compilers held and releases them once the tunnel is up; relayed traffic then
// gets the whole JIT as usual. V8 reads these flags at each tiering decision, so switching them at
// run time works (checked on Node 20 with --trace-opt).
import v8 from "node:v8";

/** The operator chose the compilers on the command line or in NODE_OPTIONS: leave them alone. */
const CHOSEN = /--(no-)?(turbofan|opt|sparkplug|maglev)\b|--jitless|--lite-mode|--max-lazy/;

let held = false;

/** Holds Sparkplug and TurboFan back for the start-up. Call before the agent's modules load. */
export function holdCompilers(): void {
  if (held || CHOSEN.test(`${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`)) return;
  v8.setFlagsFromString("--no-sparkplug");
  v8.setFlagsFromString("--no-turbofan");
  held = true;
}

/** Gives the compilers back (V8's defaults, on for both); a no-op when they were not held. */
export function releaseCompilers(): void {
  if (!held) return;
  held = false;
  v8.setFlagsFromString("--sparkplug");
  v8.setFlagsFromString("--turbofan");
}
