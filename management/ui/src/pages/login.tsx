import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { attempt } from "../lib/load.ts";
import { loadSession, me } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { FormProblem, TextInput } from "../components/ui.tsx";
import type { ApiProblem } from "../lib/errors.ts";

/** Only paths on this site: `next` comes from the URL. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function LoginPage({ next }: { next: string | null }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  if (me.value) {
    navigate(safeNext(next), { replace: true });
    return null;
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const p = await attempt(() => api.auth.login({ username, password }), { signedIn: false });
    setBusy(false);
    setProblem(p);
    if (!p) {
      await loadSession();
      // Loading the session re-renders this page, which already navigates on; navigating again here
      // would undo a click the user made in between (under load, an e2e test's).
      if (window.location.pathname === "/login") navigate(safeNext(next), { replace: true });
    }
  };
  return (
    <main class="center">
      <form class="card narrow" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Log in to Warren</h1>
        {next && <p class="muted">Your session ended. Log in again to go back where you were.</p>}
        <TextInput label="Username" field="username" problem={problem} value={username} onValue={setUsername} autoComplete="username" required autoFocus />
        <TextInput label="Password" field="password" problem={problem} value={password} onValue={setPassword} type="password" autoComplete="current-password" required />
        <FormProblem problem={problem} fields={["username", "password"]} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Log in
          </button>
        </div>
      </form>
    </main>
  );
}
