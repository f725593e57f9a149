// One listener: create (/listeners/new) or edit (/listeners/:id) its name, protocol, address, port,
// PROXY protocol and, for HTTPS, its minimum TLS version and default certificate (PEM chain and key,
// from files or pasted; both empty = Warren's self-signed fallback, flagged with a warning and a link
// to the listener's certificates; the key is write-only). Viewers see the same facts read-only.
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { when } from "../lib/format.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { Checkbox, ConfirmButton, FormProblem, Loading, PageHeader, Problem, Select, TextArea, TextInput } from "../components/ui.tsx";
import { ListenerProtocol, type Listener } from "../../../../proto/gen/warren/v1/proxy_pb.ts";
import { listenerStateBadge } from "./overview.tsx";
import { listenerAddress, protocolName } from "./listeners.tsx";
import { FallbackWarning } from "./certificates.tsx";
import { PemFile } from "../components/pem-file.tsx";
import "./listeners.css";

const FIELDS = ["name", "protocol", "bind_address", "port", "accept_proxy_protocol", "enabled", "tls_certificate_pem", "tls_private_key_pem", "tls_min_version"] as const;

const TLS_VERSIONS = [
  ["1.2", "TLS 1.2 (default)"],
  ["1.3", "TLS 1.3 only"],
] as const;

interface Form {
  name: string;
  protocol: ListenerProtocol;
  bindAddress: string;
  port: string;
  acceptProxyProtocol: boolean;
  enabled: boolean;
  cert: string;
  key: string;
  tlsMinVersion: string;
  http2: boolean;
}

const EMPTY: Form = { name: "", protocol: ListenerProtocol.HTTP, bindAddress: "", port: "", acceptProxyProtocol: false, enabled: true, cert: "", key: "", tlsMinVersion: "1.2", http2: false };

function formOf(l: Listener): Form {
  const s = l.spec;
  return {
    name: s?.name ?? "",
    protocol: s?.protocol === ListenerProtocol.HTTPS ? ListenerProtocol.HTTPS : ListenerProtocol.HTTP,
    bindAddress: s?.bindAddress ?? "",
    port: String(s?.port ?? ""),
    acceptProxyProtocol: s?.acceptProxyProtocol ?? false,
    enabled: s?.enabled ?? true,
    cert: s?.tlsCertificatePem ?? "",
    key: "",
    tlsMinVersion: s?.tlsMinVersion || "1.2",
    http2: s?.http2 ?? false,
  };
}

function StatusFacts({ l }: { l: Listener }) {
  return (
    <dl class="facts" data-testid="listener-facts">
      <dt>State</dt>
      <dd data-testid="listener-state">{l.spec?.enabled ? listenerStateBadge(l.status?.state, l.status?.error) : <span class="badge badge-muted">disabled</span>}</dd>
      <dt>Address</dt>
      <dd>
        <code>{listenerAddress(l)}</code>
      </dd>
      <dt>Since</dt>
      <dd>{when(l.status?.since)}</dd>
    </dl>
  );
}

function ReadOnly({ l }: { l: Listener }) {
  const s = l.spec;
  return (
    <dl class="facts">
      <dt>Name</dt>
      <dd>{s?.name}</dd>
      <dt>Protocol</dt>
      <dd>{protocolName(s?.protocol)}</dd>
      <dt>Bind address</dt>
      <dd>{s?.bindAddress || "all interfaces"}</dd>
      <dt>Port</dt>
      <dd>{s?.port === 0 ? "any free port" : s?.port}</dd>
      <dt>PROXY protocol</dt>
      <dd>{s?.acceptProxyProtocol ? "accepted" : "no"}</dd>
      <dt>Enabled</dt>
      <dd>{s?.enabled ? "yes" : "no"}</dd>
      {s?.protocol === ListenerProtocol.HTTPS && (
        <>
          <dt>Minimum TLS version</dt>
          <dd>{s.tlsMinVersion || "1.2"}</dd>
          <dt>HTTP/2</dt>
          <dd>{s.http2 ? "offered (h2, HTTP/1.1 still accepted)" : "no (HTTP/1.1)"}</dd>
          <dt>Default certificate</dt>
          <dd>{s.tlsCertificatePem ? "uploaded" : "none (self-signed fallback)"}</dd>
        </>
      )}
    </dl>
  );
}

export function ListenerPage({ params }: PageProps) {
  const id = params.id;
  const isNew = id === undefined;
  const cfg = useLoad(() => (isNew ? Promise.resolve(undefined) : api.proxy.getProxyConfig({})), [id], isNew ? 0 : 3_000);
  const listener = cfg.data?.listeners.find((l) => l.id === id);
  const routes = cfg.data?.routes.filter((r) => r.spec?.listenerId === id).length ?? 0;
  const [form, setForm] = useState<Form>(EMPTY);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [deleteProblem, setDeleteProblem] = useState<ApiProblem | undefined>();
  // Filled once, when the listener first loads: refreshes update the status, never what is being typed.
  // A new listener's form is EMPTY from the first render: resetting it in an effect could wipe what
  // was typed before the effect ran (the page is keyed by path, so it is always a fresh instance).
  useEffect(() => {
    if (listener) setForm(formOf(listener));
  }, [listener?.id]);
  const set = <K extends keyof Form>(k: K) => (v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));

  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(undefined);
    const portText = form.port.trim();
    if (!/^\d+$/.test(portText) || Number(portText) > 0xffffffff) return setProblem({ code: "invalid_argument", field: "port", message: portText === "" ? "is required (0 = any free port)" : "must be a number: 1–65535, or 0 for any free port" });
    const https = form.protocol === ListenerProtocol.HTTPS;
    const spec = {
      name: form.name.trim(),
      protocol: form.protocol,
      bindAddress: form.bindAddress.trim(),
      port: Number(portText),
      acceptProxyProtocol: form.acceptProxyProtocol,
      enabled: form.enabled,
      tlsCertificatePem: https ? form.cert.trim() : "",
      tlsPrivateKeyPem: https ? form.key.trim() : "",
      tlsMinVersion: https ? form.tlsMinVersion : "",
      http2: https && form.http2,
    };
    setBusy(true);
    let saved: Listener | undefined;
    const p = await attempt(async () => {
      saved = isNew ? (await api.proxy.createListener({ spec })).listener : (await api.proxy.updateListener({ id, spec })).listener;
    });
    setBusy(false);
    setProblem(p);
    if (p || !saved) return;
    if (isNew) {
      navigate(`/listeners/${saved.id}`);
      return;
    }
    setForm(formOf(saved));
    setDone("Saved.");
    cfg.reload();
  };

  if (!isNew && !listener) {
    return (
      <section>
        <PageHeader title="Listener" />
        <p>
          <a href="/listeners">← All listeners</a>
        </p>
        <Problem problem={cfg.problem} />
        {cfg.loading && !cfg.data && <Loading what="the listener" />}
        {cfg.data && !listener && <Problem problem={{ code: "not_found", field: undefined, message: `No listener ${id}.` }} />}
      </section>
    );
  }

  const admin = isAdmin.value;
  const https = form.protocol === ListenerProtocol.HTTPS;
  return (
    <section>
      <PageHeader title={isNew ? "New listener" : `Listener ${listener?.spec?.name ?? ""}`}>
        {admin && listener && (
          <ConfirmButton
            label="Delete listener"
            confirmLabel="Delete"
            question={`Delete listener ${listener.spec?.name ?? ""}? It stops accepting connections at once.${routes > 0 ? ` It still has ${routes} route(s): the server refuses until they are deleted or moved.` : ""}`}
            onConfirm={async () => {
              const p = await attempt(() => api.proxy.deleteListener({ id: listener.id }));
              setDeleteProblem(p);
              if (!p) navigate("/listeners");
            }}
          />
        )}
      </PageHeader>
      <p>
        <a href="/listeners">← All listeners</a>
      </p>
      <Problem problem={deleteProblem} />
      {listener && <StatusFacts l={listener} />}
      {listener?.spec?.protocol === ListenerProtocol.HTTPS && (
        <>
          {listener.servesFallbackCertificate && <FallbackWarning />}
          <p>
            <a href={`/certificates?listener=${encodeURIComponent(listener.id)}`} data-testid="listener-certificates-link">
              Certificates of this listener
            </a>{" "}
            <span class="muted">(served by name; uploads, self-signed and ACME)</span>
          </p>
        </>
      )}
      {!admin && listener && <ReadOnly l={listener} />}
      {admin && (
        <form class="card" onSubmit={submit} noValidate aria-label={isNew ? "New listener" : "Edit listener"}>
          <div class="grid2">
            <TextInput label="Name" field="name" problem={problem} value={form.name} onValue={set("name")} required autoComplete="off" hint="Letters, digits, '_', '.', '-'." />
            <Select
              label="Protocol"
              field="protocol"
              problem={problem}
              value={form.protocol}
              options={[
                [ListenerProtocol.HTTP, "HTTP"],
                [ListenerProtocol.HTTPS, "HTTPS"],
              ]}
              onValue={set("protocol")}
            />
            <TextInput label="Bind address" field="bind_address" problem={problem} value={form.bindAddress} onValue={set("bindAddress")} placeholder="all interfaces" autoComplete="off" hint="An IP address (e.g. 127.0.0.1 or ::1); empty = all interfaces." />
            <TextInput label="Port" field="port" problem={problem} value={form.port} onValue={set("port")} inputMode="numeric" required autoComplete="off" hint="1–65535, or 0 for any free port." />
          </div>
          <Checkbox label="Accept PROXY protocol" field="accept_proxy_protocol" problem={problem} checked={form.acceptProxyProtocol} onValue={set("acceptProxyProtocol")} hint="Only behind a load balancer that sends it: the client address is taken from the PROXY header." />
          <Checkbox label="Enabled" field="enabled" problem={problem} checked={form.enabled} onValue={set("enabled")} />
          {https && (
            <fieldset>
              <legend>TLS</legend>
              <Select label="Minimum TLS version" field="tls_min_version" problem={problem} value={form.tlsMinVersion} options={TLS_VERSIONS} onValue={set("tlsMinVersion")} hint="Clients offering only older versions are refused. 1.3 only shuts out some older clients." />
              <Checkbox label="HTTP/2" field="http2" problem={problem} checked={form.http2} onValue={set("http2")} hint="Offer h2 to clients (ALPN); HTTP/1.1 clients and WebSockets keep working. Origins are always spoken to in HTTP/1.1. Changing it restarts the listener." />
              <h3 class="legend-like">Default certificate</h3>
              <p class="hint">
                Served when no certificate of this listener names the host a client asks for (or it names none). Upload or paste a PEM chain and its private key, or add certificates per name on the listener's <a href={listener ? `/certificates?listener=${encodeURIComponent(listener.id)}` : "/certificates"}>certificates page</a>. Leave both empty for a self-signed certificate: Warren's fallback, which browsers warn about.
              </p>
              <div class="tls-pair">
                <div>
                  <PemFile label="Certificate chain file" onText={set("cert")} onProblem={(m) => setProblem({ code: "invalid_argument", field: "tls_certificate_pem", message: m })} />
                  <TextArea label="Certificate chain (PEM)" field="tls_certificate_pem" problem={problem} value={form.cert} onValue={set("cert")} rows={6} />
                </div>
                <div>
                  <PemFile label="Private key file" onText={set("key")} onProblem={(m) => setProblem({ code: "invalid_argument", field: "tls_private_key_pem", message: m })} />
                  <TextArea
                    label="Private key (PEM)"
                    field="tls_private_key_pem"
                    problem={problem}
                    value={form.key}
                    onValue={set("key")}
                    rows={6}
                    hint={listener?.tlsPrivateKeySet ? <span data-testid="key-stored">A key is stored (it is never shown). Leave this empty to keep it with the certificate above.</span> : "Write-only: once saved it is never shown again."}
                  />
                </div>
              </div>
            </fieldset>
          )}
          <FormProblem problem={problem} fields={FIELDS} />
          {done && (
            <p class="ok" role="status">
              {done}
            </p>
          )}
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {isNew ? "Create listener" : "Save"}
            </button>
            <a href="/listeners">Cancel</a>
          </div>
        </form>
      )}
      {!admin && !listener && <Problem problem={{ code: "permission_denied", field: undefined, message: "Only administrators create listeners." }} />}
    </section>
  );
}
