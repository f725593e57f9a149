import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { attempt } from "../lib/load.ts";
import { me } from "../lib/session.ts";
import { FormProblem, PageHeader, TextInput } from "../components/ui.tsx";
import type { ApiProblem } from "../lib/errors.ts";

export function AccountPage() {
  const user = me.value?.user;
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(undefined);
    if (next !== confirm) return setProblem({ code: "invalid_argument", field: "confirm", message: "the two passwords differ" });
    let revoked = 0;
    const p = await attempt(async () => {
      revoked = (await api.users.changePassword({ userId: user?.id ?? "", currentPassword: current, newPassword: next })).revokedSessions;
    });
    setProblem(p);
    if (!p) {
      setCurrent("");
      setNext("");
      setConfirm("");
      setDone(`Password changed.${revoked > 0 ? ` ${revoked} other session${revoked === 1 ? "" : "s"} signed out.` : ""}`);
    }
  };
  return (
    <section>
      <PageHeader title="Your account" />
      <p>
        Signed in as <strong>{user?.username}</strong>.
      </p>
      <form class="card narrow" onSubmit={submit} aria-labelledby="pw-title">
        <h2 id="pw-title">Change password</h2>
        <TextInput label="Current password" field="current_password" problem={problem} value={current} onValue={setCurrent} type="password" autoComplete="current-password" required />
        <TextInput label="New password (at least 12 characters)" field="new_password" problem={problem} value={next} onValue={setNext} type="password" autoComplete="new-password" required />
        <TextInput label="New password again" field="confirm" problem={problem} value={confirm} onValue={setConfirm} type="password" autoComplete="new-password" required />
        <FormProblem problem={problem} fields={["current_password", "new_password", "confirm"]} />
        {done && (
          <p class="ok" role="status">
            {done}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary">
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}
