// GET /agent/download: the self-contained agent (dist/agent-bundle/warren-agent.cjs, one file built by
// `npm ci`), so a host with only Node runs an agent without the server package. The install snippets
// pin its SHA-256: the download may come over an unverified TLS connection (the host does not trust
// Warren's CA yet), and the check makes that safe.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type http from "node:http";
import type http2 from "node:http2";
import { packageRoot } from "../../lib/package-info.ts";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

export const AGENT_DOWNLOAD_PATH = "/agent/download";
export const AGENT_FILE_NAME = "warren-agent.cjs";

export class AgentDownload {
  private readonly body: Buffer | undefined;
  /** Hex SHA-256 of the file; empty when it is not built. */
  readonly sha256: string;

  constructor(file: string = join(packageRoot(), "dist", "agent-bundle", AGENT_FILE_NAME)) {
    this.body = existsSync(file) ? readFileSync(file) : undefined;
    this.sha256 = this.body ? createHash("sha256").update(this.body).digest("hex") : "";
  }

  get available(): boolean {
    return this.body !== undefined;
  }

  handle(req: Req, res: Res): void {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" });
      res.end("method not allowed\n");
      return;
    }
    if (!this.body) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("the agent bundle is not built in this installation: run `npm run build` in the Warren checkout and restart warren serve\n");
      return;
    }
    const etag = `"${this.sha256}"`;
    res.setHeader("etag", etag);
    res.setHeader("cache-control", "no-cache");
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304);
      res.end();
      return;
    }
    res.writeHead(200, {
      "content-type": "text/javascript; charset=utf-8",
      "content-length": this.body.length,
      "content-disposition": `attachment; filename="${AGENT_FILE_NAME}"`,
    });
    if (req.method === "HEAD") res.end();
    else res.end(this.body);
  }
}
