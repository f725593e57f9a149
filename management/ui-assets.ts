// Serves the built management UI (dist/ui, made by `npm ci` / `npm run build` from management/ui):
// hashed assets with a year's cache, index.html never cached and answered for every page URL (the UI
// routes in the browser, so a deep link reloads), all under a strict CSP: nothing inline, nothing from
// anywhere but management itself.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import type http from "node:http";
import type http2 from "node:http2";
import { packageRoot } from "../lib/package-info.ts";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

export const UI_DIR = join(packageRoot(), "dist", "ui");

export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

const MISSING = `<!doctype html><meta charset="utf-8"><title>Warren</title><h1>Warren management</h1>
<p>The web UI is not built in this installation. Run <code>npm run build</code> (or <code>npm ci</code>) in the
Warren checkout and restart <code>warren serve</code>. The ConnectRPC API at <code>/warren.v1.*</code> works without it.</p>`;

/** Paths that belong to the API, the tunnel or other endpoints: never answered with the UI. */
function reserved(path: string): boolean {
  return path.startsWith("/warren.") || path.startsWith("/agent/") || path === "/healthz" || path === "/metrics" || path.startsWith("/_test/");
}

export class UiAssets {
  private readonly index: Asset;
  private readonly files = new Map<string, Asset>();
  readonly built: boolean;

  /** Reads the whole build once at start (it is small); a missing build serves a page saying so. */
  constructor(dir: string = UI_DIR) {
    this.built = existsSync(join(dir, "index.html"));
    this.index = asset(this.built ? readFileSync(join(dir, "index.html")) : Buffer.from(MISSING), TYPES[".html"]!);
    const assets = join(dir, "assets");
    if (this.built && existsSync(assets)) {
      for (const name of readdirSync(assets)) {
        this.files.set(`/assets/${name}`, asset(readFileSync(join(assets, name)), TYPES[extname(name)] ?? "application/octet-stream"));
      }
    }
  }

  /** Answers GET/HEAD for UI paths; false for anything else (the caller answers 404 or routes it). */
  handle(req: Req, res: Res, path: string): boolean {
    if ((req.method !== "GET" && req.method !== "HEAD") || reserved(path)) return false;
    const file = this.files.get(path);
    if (path.startsWith("/assets/")) {
      if (!file) return false;
      // Content-hashed names: a new build has new names, so these never need revalidating.
      this.send(req, res, file, "public, max-age=31536000, immutable");
      return true;
    }
    this.send(req, res, this.index, "no-cache");
    return true;
  }

  private send(req: Req, res: Res, a: Asset, cacheControl: string): void {
    res.setHeader("content-security-policy", UI_CSP);
    res.setHeader("cache-control", cacheControl);
    res.setHeader("etag", a.etag);
    if (req.headers["if-none-match"] === a.etag) {
      res.writeHead(304);
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": a.type, "content-length": a.body.length });
    if (req.method === "HEAD") res.end();
    else res.end(a.body);
  }
}
