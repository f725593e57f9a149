// The runner (proxy/pipeline.ts): stages in order, one answer, per-stage times, async stages, and a
// throwing stage turned into a 500 through the bug hook instead of an escaped exception.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type http from "node:http";
import { Pipeline } from "../../../proxy/pipeline.ts";
import { RequestContext } from "../../../proxy/context.ts";
import { EMPTY_SNAPSHOT, type CompiledListener } from "../../../proxy/index.ts";
import { TAKEN, answer, type Stage } from "../../../proxy/stage.ts";
import type { ResponseSink } from "../../../proxy/response-sink.ts";

class FakeResponse extends EventEmitter implements ResponseSink {
  headersSent = false;
  writableFinished = false;
  status = 0;
  body = "";
  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  write(): boolean {
    return true;
  }
  end(chunk?: Buffer | string): this {
    this.body += chunk ?? "";
    this.writableFinished = true;
    this.emit("finish");
    return this;
  }
  destroy(): this {
    return this;
  }
  writeEarlyHints(): void {}
}

function ctx(): { c: RequestContext; res: FakeResponse } {
  const req = { method: "GET", url: "/", headers: {}, rawHeaders: [], httpVersion: "1.1", complete: true } as unknown as http.IncomingMessage;
  const res = new FakeResponse();
  const c = new RequestContext(EMPTY_SNAPSHOT, { id: "lst_x" } as CompiledListener, "http", "127.0.0.1", req, res, undefined);
  return { c, res };
}

const go = (name: string, seen: string[]): Stage => ({ name, run: () => void seen.push(name) });

describe("Pipeline", () => {
  it("runs stages in order until one answers, and times each that ran", () => {
    const seen: string[] = [];
    const p = new Pipeline([go("a", seen), { name: "b", run: () => (seen.push("b"), answer("route_not_found")) }, go("c", seen)], () => assert.fail("no bug"));
    const { c, res } = ctx();
    p.run(c);
    assert.deepEqual(seen, ["a", "b"]);
    assert.equal(c.answeredBy, "b");
    assert.equal(c.code, "route_not_found");
    assert.equal(res.status, 404);
    assert.equal(c.timings.filter((t) => t !== undefined).length, 2);
    assert.equal(c.pipelineDone, true);
  });

  it("waits for an async stage and goes on from the next", async () => {
    const seen: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const p = new Pipeline(
      [
        { name: "slow", run: async () => void seen.push("slow") },
        { name: "last", run: () => (seen.push("last"), done(), TAKEN) },
      ],
      () => assert.fail("no bug"),
    );
    const { c } = ctx();
    p.run(c);
    await finished;
    assert.deepEqual(seen, ["slow", "last"]);
    assert.equal(c.answeredBy, "last");
  });

  it("hands a throwing stage (sync or async) to the bug hook, never further", async () => {
    for (const run of [
      () => {
        throw new TypeError("boom");
      },
      async () => {
        throw new TypeError("boom");
      },
    ]) {
      const bugs: [string, unknown][] = [];
      let done!: () => void;
      const reported = new Promise<void>((r) => (done = r));
      const p = new Pipeline([{ name: "broken", run }, { name: "never", run: () => assert.fail("ran after a bug") }], (_c, stage, err) => {
        bugs.push([stage.name, err]);
        done();
      });
      const { c } = ctx();
      p.run(c);
      await reported;
      assert.equal(bugs.length, 1);
      assert.equal(bugs[0]![0], "broken");
      assert.ok(bugs[0]![1] instanceof TypeError);
      assert.equal(c.pipelineDone, true);
    }
  });

  it("reports a pipeline that ran out of stages as a bug", () => {
    const bugs: string[] = [];
    new Pipeline([go("only", [])], (_c, s) => bugs.push(s.name)).run(ctx().c);
    assert.deepEqual(bugs, ["only"]);
  });
});
