// Certificates (TlsService): per HTTPS listener the certificates it serves by SNI, with status,
// issuer, expiry, next renewal and the last error; a warning on a listener that serves Warren's
// self-signed fallback. Admins add certificates (upload, files, self-signed, ACME), renew and delete
// them, and manage the ACME accounts and DNS credentials ACME uses. Private keys, EAB keys and DNS
// secrets are write-only: nothing here shows one back. `?listener=<id>` narrows to one listener.
import { useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, submit, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { relativeDays, when } from "../lib/format.ts";
import type { ApiProblem } from "../lib/errors.ts";
import {
  ACME_PRESETS,
  ADD_KINDS,
  CHALLENGE_LABELS,
  DNS_PROVIDERS,
  PROVIDER_SETTINGS,
  SOURCE_LABELS,
  STATUS_VIEW,
  acmeAccountRequest,
  addRequest,
  challengeName,
  directoryLabel,
  dnsCredentialForm,
  dnsCredentialSpec,
  newAcmeAccountForm,
  newAddForm,
  providerName,
  secretLabel,
  settingsSummary,
  wildcardNames,
  type AcmeAccountForm,
  type AddForm,
  type AddKind,
  type DnsCredentialForm,
} from "../lib/tls-form.ts";
import { Badge, Checkbox, ConfirmButton, Empty, FormActions, FormProblem, Loading, PageHeader, Problem, Select, TextArea, TextInput } from "../components/ui.tsx";
import { AcmeChallengeType, CertificateSource, CertificateStatus, type AcmeAccount, type Certificate, type DnsCredential, type ListenerTls } from "../../../../proto/gen/warren/v1/tls_pb.ts";
import { PemFile } from "../components/pem-file.tsx";
import "./listeners.css";
import "./certificates.css";

/** The banner on a listener that serves the fallback (also on the listener's own page). */
export function FallbackWarning({ listenerId, unservedNames = [], children }: { listenerId?: string; unservedNames?: readonly string[]; children?: ComponentChildren }) {
  return (
    <div class="banner banner-warn" role="note" data-testid="fallback-warning">
      <strong>This listener serves Warren's self-signed fallback</strong> to clients asking for names no certificate covers; browsers will warn.{" "}
      {listenerId ? (
        <>
          Add a certificate for each name it serves, or a default certificate on <a href={`/listeners/${listenerId}`}>the listener</a>.
        </>
      ) : null}
      {unservedNames.length > 0 && (
        <div data-testid="unserved-names">
          Not served now (pending, failed or expired): <strong>{unservedNames.join(", ")}</strong>
        </div>
      )}
      {children}
    </div>
  );
}

function StatusBadge({ c }: { c: Certificate }) {
  const v = STATUS_VIEW[c.status] ?? STATUS_VIEW[CertificateStatus.UNSPECIFIED];
  return (
    <span data-testid="cert-status">
      <Badge tone={v.tone}>{v.text}</Badge>
      {c.failures > 0 && <span class="muted nowrap"> {c.failures} failed attempt{c.failures === 1 ? "" : "s"}</span>}
    </span>
  );
}

function SourceCell({ c, accounts, creds }: { c: Certificate; accounts: AcmeAccount[]; creds: DnsCredential[] }) {
  const label = SOURCE_LABELS[c.source] ?? "unknown";
  if (c.source === CertificateSource.FILES) {
    return (
      <>
        {label}
        <div class="muted small">
          <code>{c.certificateFile}</code>
          <br />
          <code>{c.privateKeyFile}</code>
        </div>
      </>
    );
  }
  if (c.source === CertificateSource.ACME) {
    const acct = accounts.find((a) => a.id === c.acmeAccountId);
    const cred = creds.find((d) => d.id === c.dnsCredentialId);
    return (
      <>
        {label} <span class="muted">{challengeName(c.challenge)}</span>
        <div class="muted small">
          {acct ? `${directoryLabel(acct.directoryUrl)}${acct.email ? `, ${acct.email}` : ""}` : c.acmeAccountId}
          {cred && <> · DNS: {cred.spec?.name}</>}
        </div>
      </>
    );
  }
  return <>{label}</>;
}

function CertificateRows({ c, admin, accounts, creds, onChanged }: { c: Certificate; admin: boolean; accounts: AcmeAccount[]; creds: DnsCredential[]; onChanged: (p: ApiProblem | undefined, done?: string) => void }) {
  const [busy, setBusy] = useState(false);
  const names = c.names.join(", ");
  const renewable = c.source === CertificateSource.ACME || c.source === CertificateSource.FILES;
  const showError = c.lastError !== "" && (c.status === CertificateStatus.ERROR || c.failures > 0);
  return (
    <>
      <tr data-cert-id={c.id} data-names={c.names.join(" ")} class={showError ? "has-error" : undefined}>
        <td data-testid="cert-names">
          {c.names.map((n) => (
            <div key={n}>
              <code>{n}</code>
            </div>
          ))}
        </td>
        <td data-testid="cert-source">
          <SourceCell c={c} accounts={accounts} creds={creds} />
        </td>
        <td>
          <StatusBadge c={c} />
        </td>
        <td data-testid="cert-issuer">{c.issuer || <span class="muted">—</span>}</td>
        <td class="nowrap" data-testid="cert-not-after">
          {when(c.notAfter)}
          {c.notAfter && <div class={c.status === CertificateStatus.EXPIRED ? "bad small" : "muted small"}>{relativeDays(c.notAfter)}</div>}
        </td>
        <td class="nowrap">
          {c.source === CertificateSource.ACME && c.nextRenewalAt ? (
            <>
              {when(c.nextRenewalAt)}
              <div class="muted small">{relativeDays(c.nextRenewalAt)}</div>
            </>
          ) : (
            <span class="muted">—</span>
          )}
        </td>
        {admin && (
          <td>
            <div class="cell-actions">
              {renewable && (
                <button
                  type="button"
                  disabled={busy}
                  aria-label={`${c.source === CertificateSource.ACME ? "Renew" : "Reload"} ${names}`}
                  onClick={async () => {
                    setBusy(true);
                    let after: Certificate | undefined;
                    const p = await attempt(async () => {
                      after = (await api.tls.renewCertificate({ id: c.id })).certificate;
                    });
                    setBusy(false);
                    const failed = after?.status === CertificateStatus.ERROR;
                    onChanged(p, p ? undefined : c.source === CertificateSource.ACME ? `Renewal of ${names} started.` : failed ? `${names}: the files were read but cannot be served; the last error is below.` : `${names}: files read again.`);
                  }}
                >
                  {c.source === CertificateSource.ACME ? "Renew" : "Reload"}
                </button>
              )}
              <ConfirmButton
                label="Delete"
                confirmLabel="Delete certificate"
                question={
                  <>
                    Delete the certificate for <strong>{names}</strong>? Clients asking for these names get another certificate that covers them, or the listener's default or fallback, from the next handshake on.
                  </>
                }
                onConfirm={async () => {
                  const p = await attempt(() => api.tls.deleteCertificate({ id: c.id }));
                  onChanged(p, p ? undefined : `Deleted the certificate for ${names}.`);
                }}
              />
            </div>
          </td>
        )}
      </tr>
      {showError && (
        <tr class="cert-error-row" data-error-for={c.id}>
          <td colSpan={admin ? 7 : 6}>
            <strong class="bad">Last error:</strong>
            <pre class="cert-error" data-testid="cert-last-error">
              {c.lastError}
            </pre>
          </td>
        </tr>
      )}
    </>
  );
}

function AddCertificate({ listenerId, accounts, creds, onAdded, onCancel }: { listenerId: string; accounts: AcmeAccount[]; creds: DnsCredential[]; onAdded: (c: Certificate | undefined) => void; onCancel: () => void }) {
  const [form, setForm] = useState<AddForm>(() => ({ ...newAddForm(), acmeAccountId: accounts[0]?.id ?? "", dnsCredentialId: creds[0]?.id ?? "" }));
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const set =
    <K extends keyof AddForm>(k: K) =>
    (v: AddForm[K]) =>
      setForm((f) => ({ ...f, [k]: v }));
  const save = async (e: Event) => {
    e.preventDefault();
    let added: Certificate | undefined;
    const ok = await submit(
      () => addRequest(listenerId, form),
      async (r) => {
        if (r.kind === "upload") added = (await api.tls.uploadCertificate(r.req)).certificate;
        else if (r.kind === "files") added = (await api.tls.addCertificateFiles(r.req)).certificate;
        else if (r.kind === "self-signed") added = (await api.tls.generateSelfSignedCertificate(r.req)).certificate;
        else added = (await api.tls.requestAcmeCertificate(r.req)).certificate;
      },
      { problem: setProblem, busy: setBusy },
    );
    if (ok) onAdded(added);
  };
  const wild = wildcardNames(form.names);
  const fields = ["certificate_pem", "private_key_pem", "certificate_file", "private_key_file", "names", "valid_days", "acme_account_id", "challenge", "dns_credential_id"];
  return (
    <form class="card add-cert" onSubmit={save} noValidate aria-label="Add certificate">
      <h3>Add a certificate</h3>
      <Select<AddKind>
        label="Source"
        value={form.kind}
        options={ADD_KINDS}
        onValue={(k) => {
          setProblem(undefined);
          set("kind")(k);
        }}
      />
      {form.kind === "upload" && (
        <div class="tls-pair">
          <div>
            <PemFile label="Certificate chain file" onText={set("certificatePem")} onProblem={(m) => setProblem({ code: "invalid_argument", field: "certificate_pem", message: m })} />
            <TextArea label="Certificate chain (PEM)" field="certificate_pem" problem={problem} value={form.certificatePem} onValue={set("certificatePem")} rows={8} hint="Leaf first, then the intermediates in order. The names served are the leaf's DNS names." />
          </div>
          <div>
            <PemFile label="Private key file" onText={set("privateKeyPem")} onProblem={(m) => setProblem({ code: "invalid_argument", field: "private_key_pem", message: m })} />
            <TextArea label="Private key (PEM)" field="private_key_pem" problem={problem} value={form.privateKeyPem} onValue={set("privateKeyPem")} rows={8} hint="Write-only: once saved it is never shown again." />
          </div>
        </div>
      )}
      {form.kind === "files" && (
        <div class="grid2">
          <TextInput label="Certificate chain file path" field="certificate_file" problem={problem} value={form.certificateFile} onValue={set("certificateFile")} placeholder="/etc/ssl/example.com/fullchain.pem" autoComplete="off" hint="An absolute path the server can read; re-read when the file changes." />
          <TextInput label="Private key file path" field="private_key_file" problem={problem} value={form.privateKeyFile} onValue={set("privateKeyFile")} placeholder="/etc/ssl/example.com/privkey.pem" autoComplete="off" hint="An absolute path the server can read." />
        </div>
      )}
      {(form.kind === "self-signed" || form.kind === "acme") && (
        <TextArea label="Names" field="names" problem={problem} value={form.names} onValue={set("names")} rows={3} hint={form.kind === "acme" ? "One per line. Wildcards (*.example.com) need DNS-01; IP addresses, localhost and single labels cannot be issued." : "One per line, e.g. test.example or *.test.example."} />
      )}
      {form.kind === "self-signed" && <TextInput label="Valid days" field="valid_days" problem={problem} value={form.validDays} onValue={set("validDays")} inputMode="numeric" autoComplete="off" hint="1–3650. No browser trusts it: for tests, or behind another proxy that does not check." />}
      {form.kind === "acme" && (
        <>
          <div class="grid2">
            <Select
              label="ACME account"
              field="acme_account_id"
              problem={problem}
              value={form.acmeAccountId}
              options={accounts.length ? accounts.map((a) => [a.id, `${directoryLabel(a.directoryUrl)}${a.email ? ` — ${a.email}` : ""}`] as const) : [["", "No ACME account yet: add one below"] as const]}
              onValue={set("acmeAccountId")}
            />
            <Select<AcmeChallengeType> label="Challenge" field="challenge" problem={problem} value={form.challenge} options={CHALLENGE_LABELS} onValue={set("challenge")} hint="Wildcard names need DNS-01." />
          </div>
          {form.challenge === AcmeChallengeType.DNS_01 && (
            <Select
              label="DNS credential"
              field="dns_credential_id"
              problem={problem}
              value={form.dnsCredentialId}
              options={creds.length ? creds.map((c) => [c.id, `${c.spec?.name ?? c.id} (${providerName(c.spec?.provider)})`] as const) : [["", "No DNS credential yet: add one below"] as const]}
              onValue={set("dnsCredentialId")}
            />
          )}
          {wild.length > 0 && form.challenge !== AcmeChallengeType.DNS_01 && (
            <p class="warn" role="status">
              {wild.join(", ")}: a wildcard can only be issued with DNS-01.
            </p>
          )}
          <p class="hint">Issuance runs in the background: the certificate shows as pending until the CA issues it.</p>
        </>
      )}
      <FormProblem problem={problem} fields={fields} />
      <FormActions submit={form.kind === "self-signed" ? "Generate certificate" : form.kind === "acme" ? "Request certificate" : "Add certificate"} busy={busy} onCancel={onCancel} />
    </form>
  );
}

function ListenerCertificates({ lt, certs, accounts, creds, onChanged }: { lt: ListenerTls; certs: Certificate[]; accounts: AcmeAccount[]; creds: DnsCredential[]; onChanged: () => void }) {
  const admin = isAdmin.value;
  const [adding, setAdding] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const changed = (p: ApiProblem | undefined, message?: string) => {
    setProblem(p);
    setDone(message);
    onChanged();
  };
  const name = lt.listenerName || lt.listenerId;
  return (
    <section class="cert-listener" aria-labelledby={`tls-${lt.listenerId}`} data-listener={name}>
      <div class="page-header">
        <h2 id={`tls-${lt.listenerId}`}>
          {name} <a class="small" href={`/listeners/${lt.listenerId}`}>listener settings</a>
        </h2>
        {admin && !adding && (
          <button type="button" class="primary" onClick={() => setAdding(true)} aria-label={`Add certificate to ${name}`}>
            Add certificate
          </button>
        )}
      </div>
      {lt.servesFallback && <FallbackWarning listenerId={lt.listenerId} unservedNames={lt.unservedNames} />}
      {!lt.servesFallback && lt.unservedNames.length > 0 && (
        <p class="warn" data-testid="unserved-names">
          Not served now (pending, failed or expired): <strong>{lt.unservedNames.join(", ")}</strong>
        </p>
      )}
      {adding && (
        <AddCertificate
          listenerId={lt.listenerId}
          accounts={accounts}
          creds={creds}
          onCancel={() => setAdding(false)}
          onAdded={(c) => {
            setAdding(false);
            changed(undefined, `Added the certificate for ${c?.names.join(", ") ?? "the names"}.`);
          }}
        />
      )}
      <Problem problem={problem} />
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
      {certs.length === 0 ? (
        <Empty>No certificates on this listener yet.</Empty>
      ) : (
        <div class="table-scroll">
          <table class="certs-table" aria-label={`Certificates of ${name}`}>
            <thead>
              <tr>
                <th scope="col">Names</th>
                <th scope="col">Source</th>
                <th scope="col">Status</th>
                <th scope="col">Issuer</th>
                <th scope="col">Not after</th>
                <th scope="col">Next renewal</th>
                {admin && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {certs.map((c) => (
                <CertificateRows key={c.id} c={c} admin={admin} accounts={accounts} creds={creds} onChanged={changed} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function AcmeAccountCreate({ onCreated, onCancel }: { onCreated: () => void; onCancel: () => void }) {
  const [form, setForm] = useState<AcmeAccountForm>(newAcmeAccountForm);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const set =
    <K extends keyof AcmeAccountForm>(k: K) =>
    (v: AcmeAccountForm[K]) =>
      setForm((f) => ({ ...f, [k]: v }));
  const custom = form.preset === "custom";
  const save = async (e: Event) => {
    e.preventDefault();
    if (await submit(() => acmeAccountRequest(form), (req) => api.tls.createAcmeAccount(req), { problem: setProblem, busy: setBusy })) onCreated();
  };
  return (
    <form class="card narrow-wide" onSubmit={save} noValidate aria-label="New ACME account">
      <h3>New ACME account</h3>
      <Select label="Certificate authority" field={custom ? undefined : "directory_url"} problem={problem} value={form.preset} options={ACME_PRESETS} onValue={set("preset")} hint={custom ? undefined : <code>{form.preset}</code>} />
      {custom && <TextInput label="Directory URL" field="directory_url" problem={problem} type="url" value={form.customUrl} onValue={set("customUrl")} placeholder="https://acme.example/directory" autoComplete="off" hint="Any RFC 8555 server's directory, https://…" />}
      <TextInput label="Email" field="email" problem={problem} value={form.email} onValue={set("email")} autoComplete="email" hint="The CA writes here about expiring certificates and problems." />
      <Checkbox label="I agree to the CA's terms of service" field="agree_to_terms" problem={problem} checked={form.agreeToTerms} onValue={set("agreeToTerms")} hint="Registering an account accepts them; read them on the CA's site." />
      <fieldset>
        <legend>External account binding</legend>
        <p class="hint">Only for CAs that require it (ZeroSSL, some commercial CAs): both or neither.</p>
        <div class="grid2">
          <TextInput label="EAB key ID" field="eab_key_id" problem={problem} value={form.eabKeyId} onValue={set("eabKeyId")} autoComplete="off" />
          <TextInput label="EAB HMAC key" field="eab_hmac_key" problem={problem} type="password" value={form.eabHmacKey} onValue={set("eabHmacKey")} autoComplete="new-password" hint="Base64url. Write-only: never shown again." />
        </div>
      </fieldset>
      <FormProblem problem={problem} fields={["directory_url", "email", "agree_to_terms", "eab_key_id", "eab_hmac_key"]} />
      <FormActions submit="Register account" busy={busy} onCancel={onCancel} />
    </form>
  );
}

function AcmeAccounts({ accounts, loading, loadProblem, onChanged }: { accounts: AcmeAccount[] | undefined; loading: boolean; loadProblem: ApiProblem | undefined; onChanged: () => void }) {
  const admin = isAdmin.value;
  const [creating, setCreating] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  return (
    <section class="tls-section" aria-labelledby="acme-accounts-title" data-testid="acme-accounts">
      <div class="page-header">
        <h2 id="acme-accounts-title">ACME accounts</h2>
        {admin && !creating && (
          <button type="button" onClick={() => setCreating(true)}>
            Add ACME account
          </button>
        )}
      </div>
      {creating && (
        <AcmeAccountCreate
          onCancel={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            onChanged();
          }}
        />
      )}
      <Problem problem={loadProblem} />
      <Problem problem={problem} />
      {loading && !accounts && <Loading what="ACME accounts" />}
      {accounts && accounts.length === 0 && <Empty>No ACME accounts. An account at a certificate authority (Let's Encrypt, ZeroSSL, any RFC 8555 server) is what ACME certificates are requested with.</Empty>}
      {accounts && accounts.length > 0 && (
        <div class="table-scroll">
          <table aria-label="ACME accounts">
            <thead>
              <tr>
                <th scope="col">Certificate authority</th>
                <th scope="col">Email</th>
                <th scope="col">EAB</th>
                <th scope="col">Created</th>
                {admin && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {accounts.map((a) => (
                <tr key={a.id} data-account-id={a.id}>
                  <td>
                    {directoryLabel(a.directoryUrl)}
                    <div class="muted small">
                      <code>{a.directoryUrl}</code>
                    </div>
                  </td>
                  <td>{a.email || <span class="muted">—</span>}</td>
                  <td>{a.externalAccountBinding ? "yes" : "no"}</td>
                  <td class="nowrap">{when(a.createdAt)}</td>
                  {admin && (
                    <td>
                      <ConfirmButton
                        label="Delete"
                        confirmLabel="Delete account"
                        question={
                          <>
                            Delete the ACME account {a.email ? <strong>{a.email}</strong> : null} at {directoryLabel(a.directoryUrl)}? Its key is removed from Warren; the server refuses while a certificate uses it.
                          </>
                        }
                        onConfirm={async () => {
                          setProblem(await attempt(() => api.tls.deleteAcmeAccount({ id: a.id })));
                          onChanged();
                        }}
                      />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function DnsCredentialEdit({ credential, onSaved, onCancel }: { credential: DnsCredential | undefined; onSaved: () => void; onCancel: () => void }) {
  const isNew = credential === undefined;
  const [form, setForm] = useState<DnsCredentialForm>(() => dnsCredentialForm(credential));
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const settings = PROVIDER_SETTINGS[form.provider];
  const save = async (e: Event) => {
    e.preventDefault();
    const ok = await submit(
      () => dnsCredentialSpec(form, credential),
      (spec) => (isNew ? api.tls.createDnsCredential({ spec }) : api.tls.updateDnsCredential({ id: credential.id, spec })),
      { problem: setProblem, busy: setBusy },
    );
    if (ok) onSaved();
  };
  const fields = ["name", "provider", "settings", "secret"];
  return (
    <form class="card" onSubmit={save} noValidate aria-label={isNew ? "New DNS credential" : `Edit DNS credential ${credential.spec?.name ?? ""}`}>
      <h3>{isNew ? "New DNS credential" : `DNS credential ${credential.spec?.name ?? ""}`}</h3>
      <div class="grid2">
        <TextInput label="Name" field="name" problem={problem} value={form.name} onValue={(v) => setForm((f) => ({ ...f, name: v }))} autoComplete="off" hint="What it is for, e.g. “cloudflare example.com”." />
        <Select label="Provider" field="provider" problem={problem} value={form.provider} options={DNS_PROVIDERS} onValue={(v) => setForm((f) => ({ ...f, provider: v }))} />
        {settings.map((s) => (
          <TextInput
            key={`${form.provider}-${s.key}`}
            label={s.label}
            field={`settings.${s.key}`}
            problem={problem}
            value={form.settings[s.key] ?? ""}
            onValue={(v) => setForm((f) => ({ ...f, settings: { ...f.settings, [s.key]: v } }))}
            placeholder={s.placeholder}
            autoComplete="off"
            hint={s.hint}
          />
        ))}
        <TextInput
          label={secretLabel(form.provider)}
          field="secret"
          problem={problem}
          type="password"
          value={form.secret}
          onValue={(v) => setForm((f) => ({ ...f, secret: v }))}
          autoComplete="new-password"
          hint={
            credential?.secretSet ? (
              <span data-testid="secret-stored">A secret is stored — leave empty to keep it. It is never shown.</span>
            ) : (
              "Write-only: once saved it is never shown again."
            )
          }
        />
      </div>
      <FormProblem problem={problem} fields={fields} />
      <FormActions submit={isNew ? "Create credential" : "Save credential"} busy={busy} onCancel={onCancel} />
    </form>
  );
}

function DnsCredentials({ creds, loading, loadProblem, onChanged }: { creds: DnsCredential[] | undefined; loading: boolean; loadProblem: ApiProblem | undefined; onChanged: () => void }) {
  const admin = isAdmin.value;
  /** undefined: no form; "new"; or the id being edited. */
  const [editing, setEditing] = useState<string | undefined>();
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const edited = editing && editing !== "new" ? creds?.find((c) => c.id === editing) : undefined;
  return (
    <section class="tls-section" aria-labelledby="dns-creds-title" data-testid="dns-credentials">
      <div class="page-header">
        <h2 id="dns-creds-title">DNS credentials</h2>
        {admin && editing === undefined && (
          <button type="button" onClick={() => setEditing("new")}>
            Add DNS credential
          </button>
        )}
      </div>
      <p class="hint">For DNS-01: Warren writes the challenge's TXT record through the provider. Secrets are write-only.</p>
      {(editing === "new" || edited) && (
        <DnsCredentialEdit
          key={editing}
          credential={edited}
          onCancel={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            onChanged();
          }}
        />
      )}
      <Problem problem={loadProblem} />
      <Problem problem={problem} />
      {loading && !creds && <Loading what="DNS credentials" />}
      {creds && creds.length === 0 && <Empty>No DNS credentials.</Empty>}
      {creds && creds.length > 0 && (
        <div class="table-scroll">
          <table aria-label="DNS credentials">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Provider</th>
                <th scope="col">Settings</th>
                <th scope="col">Secret</th>
                <th scope="col">Updated</th>
                {admin && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {creds.map((c) => (
                <tr key={c.id} data-credential={c.spec?.name}>
                  <td>{c.spec?.name}</td>
                  <td>{providerName(c.spec?.provider)}</td>
                  <td>
                    <code>{settingsSummary(c)}</code>
                  </td>
                  <td>{c.secretSet ? <Badge tone="ok">stored</Badge> : <Badge tone="bad">missing</Badge>}</td>
                  <td class="nowrap">{when(c.updatedAt)}</td>
                  {admin && (
                    <td>
                      <div class="cell-actions">
                        <button type="button" onClick={() => setEditing(c.id)} aria-label={`Edit ${c.spec?.name ?? ""}`}>
                          Edit
                        </button>
                        <ConfirmButton
                          label="Delete"
                          confirmLabel="Delete credential"
                          question={
                            <>
                              Delete DNS credential <strong>{c.spec?.name}</strong>? The server refuses while a certificate uses it.
                            </>
                          }
                          onConfirm={async () => {
                            setProblem(await attempt(() => api.tls.deleteDnsCredential({ id: c.id })));
                            if (editing === c.id) setEditing(undefined);
                            onChanged();
                          }}
                        />
                      </div>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function CertificatesPage({ query }: PageProps) {
  const filter = query.get("listener") ?? "";
  const tls = useLoad(async () => {
    const [l, c] = await Promise.all([api.tls.listListenerTls({}), api.tls.listCertificates({})]);
    return { listeners: l.listeners, certificates: c.certificates };
  }, [], 5_000);
  const accounts = useLoad(() => api.tls.listAcmeAccounts({}).then((r) => r.accounts), []);
  const creds = useLoad(() => api.tls.listDnsCredentials({}).then((r) => r.credentials), []);
  const listeners = tls.data?.listeners ?? [];
  const shown = filter ? listeners.filter((l) => l.listenerId === filter) : listeners;
  return (
    <section>
      <PageHeader title="Certificates" />
      <p class="hint">
        Each HTTPS listener picks a certificate per connection by the name the client asks for (SNI): an exact name, then the longest wildcard, then the listener's default certificate, then Warren's self-signed fallback.
      </p>
      <Problem problem={tls.problem} />
      {tls.loading && !tls.data && <Loading what="certificates" />}
      {tls.data && listeners.length === 0 && (
        <Empty>
          No HTTPS listeners. Certificates belong to an HTTPS listener: <a href="/listeners/new">add one</a> first.
        </Empty>
      )}
      {tls.data && listeners.length > 1 && (
        <div class="tls-filter">
          <Select
            label="Listener"
            value={filter}
            options={[["", "All HTTPS listeners"] as const, ...listeners.map((l) => [l.listenerId, l.listenerName || l.listenerId] as const)]}
            onValue={(v) => navigate(v ? `/certificates?listener=${encodeURIComponent(v)}` : "/certificates", { replace: true })}
          />
        </div>
      )}
      {tls.data && filter && shown.length === 0 && <Empty>No HTTPS listener {filter}.</Empty>}
      {shown.map((lt) => (
        <ListenerCertificates
          key={lt.listenerId}
          lt={lt}
          certs={(tls.data?.certificates ?? []).filter((c) => c.listenerId === lt.listenerId)}
          accounts={accounts.data ?? []}
          creds={creds.data ?? []}
          onChanged={tls.reload}
        />
      ))}
      <AcmeAccounts accounts={accounts.data} loading={accounts.loading} loadProblem={accounts.problem} onChanged={accounts.reload} />
      <DnsCredentials creds={creds.data} loading={creds.loading} loadProblem={creds.problem} onChanged={creds.reload} />
    </section>
  );
}
