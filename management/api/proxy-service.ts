import type { ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ListenerProtocol, ListenerState, ProxyService, type ListenerSchema, type RouteSchema, type RouteSpec } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { newId } from "../store/ids.ts";
import type { ListenerRow, RouteRow } from "../store/index.ts";
import { validateListener, type ValidListener } from "../config/validate-listener.ts";
import { refuseManagementTargets } from "../config/management-target.ts";
import { redactRouteSpec, routeSpecFromJson, routeSpecToJson, validateRoute } from "../config/validate-route.ts";
import { setAuditTarget } from "./context.ts";
import type { ApiDeps } from "./deps.ts";

export function proxyService(d: ApiDeps): ServiceImpl<typeof ProxyService> {
  const { snapshots, listenerStatus } = d.proxy;
  const repo = d.store.proxy;
  const ts = (ms: number) => timestampFromMs(ms);

  const listenerToProto = (l: ListenerRow): MessageInitShape<typeof ListenerSchema> => {
    const st = listenerStatus(l.id);
    return {
      id: l.id,
      spec: {
        name: l.name,
        bindAddress: l.bind_address,
        port: l.port,
        protocol: l.protocol === "https" ? ListenerProtocol.HTTPS : ListenerProtocol.HTTP,
        enabled: l.enabled === 1,
        acceptProxyProtocol: l.accept_proxy_protocol === 1,
        tlsCertificatePem: l.tls_cert_pem,
        tlsMinVersion: l.protocol === "https" ? l.tls_min_version : "",
        http2: l.http2 === 1,
      },
      tlsPrivateKeySet: l.tls_key_pem !== "",
      servesFallbackCertificate: l.protocol === "https" && l.tls_cert_pem === "",
      status: st
        ? {
            state: st.state === "running" ? ListenerState.RUNNING : st.state === "error" ? ListenerState.ERROR : ListenerState.STOPPED,
            error: st.error,
            since: ts(st.since),
            boundPort: st.boundPort,
          }
        : { state: ListenerState.STOPPED },
      createdAt: ts(l.created_at),
      updatedAt: ts(l.updated_at),
    };
  };

  const routeToProto = (r: RouteRow): MessageInitShape<typeof RouteSchema> => ({
    id: r.id,
    spec: redactRouteSpec(routeSpecFromJson(r.spec)),
    createdAt: ts(r.created_at),
    updatedAt: ts(r.updated_at),
  });

  const mustListener = (id: string, field = "id"): ListenerRow => {
    if (id === "") throw fieldError(field, "is required");
    const l = repo.listener(id);
    if (!l) throw new ApiError("not_found", `${field}: no listener ${id}`);
    return l;
  };
  const mustRoute = (id: string): RouteRow => {
    if (id === "") throw fieldError("id", "is required");
    const r = repo.route(id);
    if (!r) throw new ApiError("not_found", `id: no route ${id}`);
    return r;
  };
  const nameFree = (name: string, self?: string) => {
    const clash = repo.listeners().find((l) => l.name === name && l.id !== self);
    if (clash) throw new ApiError("already_exists", `spec.name: a listener named "${name}" exists (${clash.id})`);
  };
  const portFree = (bind: string, port: number, self?: string) => {
    if (port === 0) return;
    const clash = repo.listeners().find((l) => l.port === port && l.id !== self && (l.bind_address === bind || l.bind_address === "" || bind === ""));
    if (clash) throw new ApiError("already_exists", `spec.port: listener "${clash.name}" already uses port ${port}`);
  };
  const listenerColumns = (v: ValidListener) => ({
    name: v.name,
    bind_address: v.bindAddress,
    port: v.port,
    protocol: v.protocol,
    enabled: v.enabled ? (1 as const) : (0 as const),
    accept_proxy_protocol: v.acceptProxyProtocol ? (1 as const) : (0 as const),
    tls_cert_pem: v.tlsCertPem,
    tls_key_pem: v.tlsKeyPem,
    tls_min_version: v.tlsMinVersion,
    http2: v.http2 ? (1 as const) : (0 as const),
  });
  const routeColumns = (spec: RouteSpec) => ({
    listener_id: spec.listenerId,
    name: spec.name,
    priority: spec.priority,
    is_default: spec.isDefault ? (1 as const) : (0 as const),
    spec: routeSpecToJson(spec),
  });
  const oneDefault = (listenerId: string, isDefault: boolean, self?: string) => {
    if (!isDefault) return;
    const other = repo.routes().find((r) => r.listener_id === listenerId && r.is_default === 1 && r.id !== self);
    if (other) throw fieldError("spec.is_default", `listener ${listenerId} already has a default route (${other.id})`);
  };
  const setEnabled = async (id: string, enabled: boolean) => {
    const l = await snapshots.write(() => {
      const row = mustListener(id);
      repo.updateListener({ ...row, enabled: enabled ? 1 : 0, updated_at: d.now() });
      return repo.listener(id)!;
    });
    return { listener: listenerToProto(l) };
  };

  return {
    getProxyConfig() {
      const listeners = repo.listeners();
      const routes = repo.routes();
      return {
        listeners: listeners.map(listenerToProto),
        routes: routes.map(routeToProto),
        warnings: {
          fallbackCertificateListenerIds: listeners.filter((l) => l.protocol === "https" && l.tls_cert_pem === "").map((l) => l.id),
          tlsSkipVerifyRouteIds: routes.filter((r) => routeSpecFromJson(r.spec).targets.some((t) => t.tlsSkipVerify)).map((r) => r.id),
        },
      };
    },

    async createListener(req, ctx) {
      const v = validateListener(req.spec);
      const now = d.now();
      const id = newId("lsn");
      setAuditTarget(ctx, id);
      const row = await snapshots.write(() => {
        nameFree(v.name);
        portFree(v.bindAddress, v.port);
        repo.insertListener({ id, ...listenerColumns(v), created_at: now, updated_at: now });
        return repo.listener(id)!;
      });
      return { listener: listenerToProto(row) };
    },

    async updateListener(req, ctx) {
      setAuditTarget(ctx, req.id);
      const existing = mustListener(req.id);
      const v = validateListener(req.spec, existing.tls_key_pem);
      const row = await snapshots.write(() => {
        nameFree(v.name, req.id);
        portFree(v.bindAddress, v.port, req.id);
        repo.updateListener({ id: req.id, ...listenerColumns(v), updated_at: d.now() });
        return repo.listener(req.id)!;
      });
      return { listener: listenerToProto(row) };
    },

    async deleteListener(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        mustListener(req.id);
        const n = repo.routeCount(req.id);
        if (n > 0) throw new ApiError("failed_precondition", `id: the listener has ${n} route(s); delete or move them first`);
        repo.deleteListener(req.id);
      });
      return {};
    },

    async enableListener(req, ctx) {
      setAuditTarget(ctx, req.id);
      return setEnabled(req.id, true);
    },

    async disableListener(req, ctx) {
      setAuditTarget(ctx, req.id);
      return setEnabled(req.id, false);
    },

    async createRoute(req, ctx) {
      const spec = validateRoute(req.spec);
      await refuseManagementTargets(spec, d.proxy.management());
      const now = d.now();
      const id = newId("rte");
      setAuditTarget(ctx, id);
      const row = await snapshots.write(() => {
        mustListener(spec.listenerId, "spec.listener_id");
        oneDefault(spec.listenerId, spec.isDefault);
        repo.insertRoute({ id, ...routeColumns(spec), created_at: now, updated_at: now });
        return repo.route(id)!;
      });
      return { route: routeToProto(row) };
    },

    async updateRoute(req, ctx) {
      setAuditTarget(ctx, req.id);
      const existing = mustRoute(req.id);
      const spec = validateRoute(req.spec, routeSpecFromJson(existing.spec));
      await refuseManagementTargets(spec, d.proxy.management());
      const row = await snapshots.write(() => {
        mustListener(spec.listenerId, "spec.listener_id");
        oneDefault(spec.listenerId, spec.isDefault, req.id);
        repo.updateRoute({ id: req.id, ...routeColumns(spec), updated_at: d.now() });
        return repo.route(req.id)!;
      });
      return { route: routeToProto(row) };
    },

    async deleteRoute(req, ctx) {
      setAuditTarget(ctx, req.id);
      await snapshots.write(() => {
        mustRoute(req.id);
        repo.deleteRoute(req.id);
      });
      return {};
    },
  };
}
