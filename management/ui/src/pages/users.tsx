// Users (admin only): the list, creating a user, changing a role, disable/enable, setting another
// user's password (an admin needs no current password for that) and delete. The server refuses
// deleting yourself or the last enabled admin; its message is shown.
import { useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { me } from "../lib/session.ts";
import { when } from "../lib/format.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { Badge, ConfirmButton, Empty, FormProblem, Loading, PageHeader, Problem, Select, TextInput, FormActions } from "../components/ui.tsx";
import { Role, type User } from "../../../../proto/gen/warren/v1/user_pb.ts";
import "./users.css";

export const ROLE_OPTIONS: readonly (readonly [Role, string])[] = [
  [Role.VIEWER, "Viewer (read only)"],
  [Role.ADMIN, "Admin"],
];

export function roleName(r: Role): string {
  return r === Role.ADMIN ? "admin" : r === Role.VIEWER ? "viewer" : "—";
}

function CreateUserForm({ onCreated, onCancel }: { onCreated: (u: User | undefined) => void; onCancel: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>(Role.VIEWER);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    let user: User | undefined;
    const p = await attempt(async () => {
      user = (await api.users.createUser({ username: username.trim(), password, role })).user;
    });
    setBusy(false);
    setProblem(p);
    if (!p) onCreated(user);
  };
  return (
    <form class="card narrow" onSubmit={submit} noValidate aria-labelledby="create-user-title">
      <h2 id="create-user-title">Create user</h2>
      <TextInput label="Username" field="username" problem={problem} value={username} onValue={setUsername} required autoFocus autoComplete="off" hint="3–64 characters of a–z, 0–9, _ or -." />
      <TextInput label="Password (at least 12 characters)" field="password" problem={problem} value={password} onValue={setPassword} type="password" autoComplete="new-password" required />
      <Select label="Role" field="role" problem={problem} value={role} options={ROLE_OPTIONS} onValue={setRole} />
      <FormProblem problem={problem} fields={["username", "password", "role"]} />
      <FormActions submit="Create user" busy={busy} onCancel={onCancel} />
    </form>
  );
}

function SetPasswordForm({ user, onDone }: { user: User; onDone: (message: string | undefined) => void }) {
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    let revoked = 0;
    const p = await attempt(async () => {
      revoked = (await api.users.changePassword({ userId: user.id, newPassword: password })).revokedSessions;
    });
    setBusy(false);
    setProblem(p);
    if (!p) onDone(`Password set for ${user.username}.${revoked > 0 ? ` ${revoked} session${revoked === 1 ? "" : "s"} signed out.` : ""}`);
  };
  return (
    <form class="card narrow" onSubmit={submit} noValidate aria-labelledby="set-pw-title">
      <h2 id="set-pw-title">Set password for {user.username}</h2>
      <p class="hint">Their other sessions are signed out; tell them the new password.</p>
      <TextInput label="New password (at least 12 characters)" field="new_password" problem={problem} value={password} onValue={setPassword} type="password" autoComplete="new-password" required autoFocus />
      <FormProblem problem={problem} fields={["new_password"]} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Set password
        </button>
        <button type="button" onClick={() => onDone(undefined)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function UsersPage(_props: PageProps) {
  const list = useLoad(() => api.users.listUsers({}), []);
  const [creating, setCreating] = useState(false);
  const [settingPw, setSettingPw] = useState<User | undefined>();
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const users = list.data?.users ?? [];
  const myId = me.value?.user?.id;

  const act = async (u: User, write: () => Promise<unknown>, message: string) => {
    setBusy(u.id);
    setDone(undefined);
    const p = await attempt(write);
    setBusy(undefined);
    setProblem(p);
    if (!p) setDone(message);
    list.reload();
  };

  return (
    <section>
      <PageHeader title="Users">
        {!creating && (
          <button
            type="button"
            class="primary"
            onClick={() => {
              setCreating(true);
              setSettingPw(undefined);
            }}
          >
            Create user
          </button>
        )}
      </PageHeader>
      {creating && (
        <CreateUserForm
          onCancel={() => setCreating(false)}
          onCreated={(u) => {
            setCreating(false);
            setProblem(undefined);
            setDone(`User ${u?.username ?? ""} created.`);
            list.reload();
          }}
        />
      )}
      {settingPw && (
        <SetPasswordForm
          key={settingPw.id}
          user={settingPw}
          onDone={(msg) => {
            setSettingPw(undefined);
            if (msg) {
              setProblem(undefined);
              setDone(msg);
            }
          }}
        />
      )}
      <Problem problem={problem} />
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
      <Problem problem={list.problem} />
      {list.loading && !list.data && <Loading what="users" />}
      {list.data && users.length === 0 && <Empty>No users.</Empty>}
      {users.length > 0 && (
        <table aria-label="Users" class="users">
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last login</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => {
              const self = u.id === myId;
              const other = u.role === Role.ADMIN ? Role.VIEWER : Role.ADMIN;
              return (
                <tr key={u.id} data-user={u.username}>
                  <td>
                    <strong>{u.username}</strong>
                    {self && <span class="muted"> (you)</span>}
                  </td>
                  <td data-testid="user-role">{u.role === Role.ADMIN ? <Badge tone="ok">admin</Badge> : <Badge tone="muted">{roleName(u.role)}</Badge>}</td>
                  <td data-testid="user-status">{u.disabled ? <Badge tone="warn">disabled</Badge> : <Badge tone="ok">enabled</Badge>}</td>
                  <td class="nowrap">{when(u.createdAt)}</td>
                  <td class="nowrap">{u.lastLoginAt ? when(u.lastLoginAt) : "never"}</td>
                  <td>
                    <div class="cell-actions">
                      <button type="button" disabled={busy === u.id} onClick={() => void act(u, () => api.users.updateUser({ id: u.id, role: other }), `${u.username} is now ${roleName(other)}.`)}>
                        {other === Role.ADMIN ? "Make admin" : "Make viewer"}
                      </button>
                      <button type="button" disabled={busy === u.id} onClick={() => void act(u, () => api.users.updateUser({ id: u.id, disabled: !u.disabled }), `${u.username} is ${u.disabled ? "enabled" : "disabled"}.`)}>
                        {u.disabled ? "Enable" : "Disable"}
                      </button>
                      {self ? (
                        <a href="/account">Change your password</a>
                      ) : (
                        <button
                          type="button"
                          onClick={() => {
                            setCreating(false);
                            setDone(undefined);
                            setSettingPw(u);
                          }}
                        >
                          Set password
                        </button>
                      )}
                      <ConfirmButton
                        label="Delete"
                        question={
                          <>
                            Delete user <strong>{u.username}</strong>? They can no longer sign in. This cannot be undone.
                          </>
                        }
                        confirmLabel="Delete user"
                        onConfirm={() => act(u, () => api.users.deleteUser({ id: u.id }), `User ${u.username} deleted.`)}
                      />
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
