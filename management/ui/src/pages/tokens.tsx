// API tokens: the list (everyone signed in), creating one (admin: name, role up to one's own,
// optional expiry) with its secret shown once, and delete (admin, after a confirm).
import { useState } from "preact/hooks";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin, me } from "../lib/session.ts";
import { ago, when } from "../lib/format.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { Badge, ConfirmButton, Empty, FormProblem, Loading, PageHeader, Problem, Secret, Select, TextInput, FormActions } from "../components/ui.tsx";
import { Role } from "../../../../proto/gen/warren/v1/user_pb.ts";
import type { ApiToken } from "../../../../proto/gen/warren/v1/token_pb.ts";
import { roleName } from "./users.tsx";
import "./users.css";

function CreateTokenForm({ onCreated, onCancel }: { onCreated: (t: { token: ApiToken | undefined; secret: string }) => void; onCancel: () => void }) {
  const own = me.value?.effectiveRole ?? Role.VIEWER;
  const options: (readonly [Role, string])[] = own === Role.ADMIN ? [[Role.ADMIN, "Admin"], [Role.VIEWER, "Viewer (read only)"]] : [[Role.VIEWER, "Viewer (read only)"]];
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(options[0]![0]);
  const [expires, setExpires] = useState("");
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    let expiresAt: ReturnType<typeof timestampFromDate> | undefined;
    if (expires !== "") {
      const d = new Date(expires);
      if (Number.isNaN(d.getTime())) return setProblem({ code: "invalid_argument", field: "expires_at", message: "is not a date and time" });
      expiresAt = timestampFromDate(d);
    }
    setBusy(true);
    let created: { token: ApiToken | undefined; secret: string } | undefined;
    const p = await attempt(async () => {
      const r = await api.tokens.createToken({ name: name.trim(), role, expiresAt });
      created = { token: r.token, secret: r.secret };
    });
    setBusy(false);
    setProblem(p);
    if (!p && created) onCreated(created);
  };
  return (
    <form class="card narrow" onSubmit={submit} noValidate aria-labelledby="create-token-title">
      <h2 id="create-token-title">Create API token</h2>
      <TextInput label="Name" field="name" problem={problem} value={name} onValue={setName} required autoFocus autoComplete="off" hint="What uses it, e.g. “deploy script”. At most 64 characters." />
      <Select label="Role" field="role" problem={problem} value={role} options={options} onValue={setRole} hint="A token acts as you, with at most your role." />
      <TextInput label="Expires (optional)" field="expires_at" problem={problem} value={expires} onValue={setExpires} type="datetime-local" hint="Your local time. Leave empty for a token that never expires." />
      <FormProblem problem={problem} fields={["name", "role", "expires_at"]} />
      <FormActions submit="Create token" busy={busy} onCancel={onCancel} />
    </form>
  );
}

function SecretReveal({ token, secret, onDone }: { token: ApiToken | undefined; secret: string; onDone: () => void }) {
  return (
    <section class="card reveal" aria-labelledby="token-reveal-title" data-testid="token-reveal">
      <h2 id="token-reveal-title">Token {token?.name ?? ""} created</h2>
      <p class="warn" role="status">
        <strong>Copy the token now: it is not shown again.</strong> Warren keeps only its hash. Send it as <code>Authorization: Bearer …</code>. If it is lost, delete it and create another.
      </p>
      <Secret label="API token" value={secret} />
      <div class="actions">
        <button type="button" class="primary" onClick={onDone}>
          Done, I have copied it
        </button>
      </div>
    </section>
  );
}

export function TokensPage(_props: PageProps) {
  const list = useLoad(() => api.tokens.listTokens({}), []);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ token: ApiToken | undefined; secret: string } | undefined>();
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const tokens = list.data?.tokens ?? [];
  const admin = isAdmin.value;
  const now = Date.now();
  return (
    <section>
      <PageHeader title="API tokens">
        {admin && !creating && !created && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            Create token
          </button>
        )}
      </PageHeader>
      {creating && (
        <CreateTokenForm
          onCancel={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setCreated(c);
            list.reload();
          }}
        />
      )}
      {created && <SecretReveal token={created.token} secret={created.secret} onDone={() => setCreated(undefined)} />}
      <Problem problem={problem} />
      <Problem problem={list.problem} />
      {list.loading && !list.data && <Loading what="API tokens" />}
      {list.data && tokens.length === 0 && (
        <Empty>
          No API tokens yet. A token lets a script call the management API as its owner, with at most the owner's role.
          {admin ? " Create one to see its secret (once)." : ""}
        </Empty>
      )}
      {tokens.length > 0 && (
        <table aria-label="API tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Role</th>
              <th scope="col">Owner</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              {admin && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id} data-token={t.name}>
                <td>{t.name}</td>
                <td>
                  <code>{t.prefix}…</code>
                </td>
                <td>{t.role === Role.ADMIN ? <Badge tone="ok">admin</Badge> : <Badge tone="muted">{roleName(t.role)}</Badge>}</td>
                <td>{t.username}</td>
                <td class="nowrap">{when(t.createdAt)}</td>
                <td class="nowrap">{t.expiresAt ? when(t.expiresAt) : "never"}</td>
                <td class="nowrap">{ago(t.lastUsedAt, now)}</td>
                {admin && (
                  <td>
                    <ConfirmButton
                      label="Delete"
                      question={
                        <>
                          Delete token <strong>{t.name}</strong> (<code>{t.prefix}…</code>)? Anything using it is refused from now on.
                        </>
                      }
                      confirmLabel="Delete token"
                      onConfirm={async () => {
                        const p = await attempt(() => api.tokens.deleteToken({ id: t.id }));
                        setProblem(p);
                        list.reload();
                      }}
                    />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
