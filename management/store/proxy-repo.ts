import type { Db } from "./database.ts";
import type { SecretBox } from "../secrets/keyring.ts";
import { listenerKeyAad, metaAad, openRouteSpec, sealRouteSpec } from "./secret-columns.ts";

export interface ListenerRow {
  id: string;
  name: string;
  bind_address: string;
  port: number;
  protocol: "http" | "https";
  enabled: 0 | 1;
  accept_proxy_protocol: 0 | 1;
  tls_cert_pem: string;
  /** Sealed at rest (secret-columns.ts); plaintext in rows this repo returns. */
  tls_key_pem: string;
  /** HTTPS: "1.2" or "1.3". */
  tls_min_version: string;
  /** HTTPS: offer HTTP/2 (ALPN h2). */
  http2: 0 | 1;
  created_at: number;
  updated_at: number;
}

export interface RouteRow {
  id: string;
  listener_id: string;
  name: string;
  priority: number;
  is_default: 0 | 1;
  /** RouteSpec as proto JSON, validated before it is written; sensitive header values sealed at rest. */
  spec: string;
  created_at: number;
  updated_at: number;
}

/** Listeners and routes: the public proxy configuration aggregate. Secrets are sealed here, at the boundary. */
export class ProxyRepo {
  private readonly s;
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {
    this.s = {
      listeners: db.prepare<[], ListenerRow>("SELECT * FROM listeners ORDER BY name"),
      listener: db.prepare<[string], ListenerRow>("SELECT * FROM listeners WHERE id = ?"),
      insertListener: db.prepare(
        "INSERT INTO listeners (id, name, bind_address, port, protocol, enabled, accept_proxy_protocol, tls_cert_pem, tls_key_pem, tls_min_version, http2, created_at, updated_at) VALUES (@id, @name, @bind_address, @port, @protocol, @enabled, @accept_proxy_protocol, @tls_cert_pem, @tls_key_pem, @tls_min_version, @http2, @created_at, @updated_at)",
      ),
      updateListener: db.prepare(
        "UPDATE listeners SET name = @name, bind_address = @bind_address, port = @port, protocol = @protocol, enabled = @enabled, accept_proxy_protocol = @accept_proxy_protocol, tls_cert_pem = @tls_cert_pem, tls_key_pem = @tls_key_pem, tls_min_version = @tls_min_version, http2 = @http2, updated_at = @updated_at WHERE id = @id",
      ),
      deleteListener: db.prepare<[string]>("DELETE FROM listeners WHERE id = ?"),
      routes: db.prepare<[], RouteRow>("SELECT * FROM routes ORDER BY listener_id, priority, id"),
      route: db.prepare<[string], RouteRow>("SELECT * FROM routes WHERE id = ?"),
      routesOf: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM routes WHERE listener_id = ?"),
      insertRoute: db.prepare(
        "INSERT INTO routes (id, listener_id, name, priority, is_default, spec, created_at, updated_at) VALUES (@id, @listener_id, @name, @priority, @is_default, @spec, @created_at, @updated_at)",
      ),
      updateRoute: db.prepare(
        "UPDATE routes SET listener_id = @listener_id, name = @name, priority = @priority, is_default = @is_default, spec = @spec, updated_at = @updated_at WHERE id = @id",
      ),
      deleteRoute: db.prepare<[string]>("DELETE FROM routes WHERE id = ?"),
      meta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare<[string, string]>("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    };
  }

  private openListener = (row: ListenerRow): ListenerRow => ({ ...row, tls_key_pem: this.box.open(row.tls_key_pem, listenerKeyAad(row.id)) });
  private openRoute = (row: RouteRow): RouteRow => ({ ...row, spec: openRouteSpec(this.box, row.id, row.spec) });

  listeners(): ListenerRow[] {
    return this.s.listeners.all().map(this.openListener);
  }
  listener(id: string): ListenerRow | undefined {
    const row = this.s.listener.get(id);
    return row && this.openListener(row);
  }
  insertListener(row: ListenerRow): void {
    this.s.insertListener.run({ ...row, tls_key_pem: this.box.seal(row.tls_key_pem, listenerKeyAad(row.id)) });
  }
  updateListener(row: Omit<ListenerRow, "created_at">): void {
    this.s.updateListener.run({ ...row, tls_key_pem: this.box.seal(row.tls_key_pem, listenerKeyAad(row.id)) });
  }
  deleteListener(id: string): boolean {
    return this.s.deleteListener.run(id).changes > 0;
  }
  routes(): RouteRow[] {
    return this.s.routes.all().map(this.openRoute);
  }
  route(id: string): RouteRow | undefined {
    const row = this.s.route.get(id);
    return row && this.openRoute(row);
  }
  routeCount(listenerId: string): number {
    return this.s.routesOf.get(listenerId)!.n;
  }
  insertRoute(row: RouteRow): void {
    this.s.insertRoute.run({ ...row, spec: sealRouteSpec(this.box, row.id, row.spec) });
  }
  updateRoute(row: Omit<RouteRow, "created_at">): void {
    this.s.updateRoute.run({ ...row, spec: sealRouteSpec(this.box, row.id, row.spec) });
  }
  deleteRoute(id: string): boolean {
    return this.s.deleteRoute.run(id).changes > 0;
  }
  meta(key: string): string | undefined {
    return this.s.meta.get(key)?.value;
  }
  setMeta(key: string, value: string): void {
    this.s.setMeta.run(key, value);
  }
  /** A meta value that is a credential (SECRET_META_KEYS): sealed at rest. */
  secretMeta(key: string): string | undefined {
    const v = this.s.meta.get(key)?.value;
    return v === undefined ? undefined : this.box.open(v, metaAad(key));
  }
  setSecretMeta(key: string, value: string): void {
    this.s.setMeta.run(key, this.box.seal(value, metaAad(key)));
  }
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
