// The node flags the `warren` command runs with. They have to be on node's command line (V8 sizes
// its heap before any of our code runs; set later they do nothing), so they are written out in three
// places — cli/bin.mjs's shebang, `npm start` and compose.yaml — and test/unit/cli/node-flags.test.ts
// keeps those in step with this list. Tests and benches that spawn `node cli/bin.mjs` pass it too.
//
// --max-semi-space-size=4: V8's young generation otherwise grows to 2 × 16 MiB semi-spaces under a
// proxy's allocation rate and stays there. Capped at 4 MiB, the HTTP cache's budget holds (issue 11:
// 1 GiB of distinct objects grew RSS 108.6–119.6 MiB against 127–150 uncapped; goal ≤ 128), and
// bench/http shows no cost (direct and cached req/s within the run-to-run noise, peak RSS 379 MiB
// against 417).
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];

/** Whether this process was started with the flag (command line or NODE_OPTIONS). */
export function startedWithNodeFlags(): boolean {
  const given = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
  return NODE_FLAGS.every((f) => given.includes(f.split("=")[0]!));
}
