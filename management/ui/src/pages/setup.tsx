// First-admin setup from the setup URL: the token comes from ?setup_token=… and is taken out of the
// address bar (and history) at once; the page shows how long the setup window stays open.
import { useEffect, useState } from "preact/hooks";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { api } from "../lib/api.ts";
import { attempt } from "../lib/load.ts";
import { loadSession, setup } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { duration } from "../lib/format.ts";
import { FormProblem, TextInput } from "../components/ui.tsx";
import type { ApiProblem } from "../lib/errors.ts";

/** Read once, before the URL is cleaned. */
const tokenFromUrl = new URLSearchParams(window.location.search).get("setup_token") ?? "";

export function SetupPage() {
  const [token, setToken] = useState(tokenFromUrl);
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    // The token must not stay in the address bar, the history or a bookmark.
    if (window.location.search.includes("setup_token")) history.replaceState(null, "", "/setup");
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);
  const s = setup.value;
  if (s && !s.setupRequired) {
    return (
      <main class="center">
        <section class="card narrow">
          <h1>Warren is set up</h1>
          <p>
            An administrator exists. <a href="/login">Log in</a>.
          </p>
        </section>
      </main>
    );
  }
  const until = s?.openUntil ? timestampDate(s.openUntil).getTime() : 0;
  const left = until - now;
  const open = s?.setupOpen === true && left > 0;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (password !== confirm) {
      setProblem({ code: "invalid_argument", field: "confirm", message: "the two passwords differ" });
      return;
    }
    setBusy(true);
    const p = await attempt(async () => {
      await api.auth.setupAdmin({ setupToken: token, username, password });
      await api.auth.login({ username, password });
    }, { signedIn: false });
    setBusy(false);
    setProblem(p);
    if (!p) {
      await loadSession();
      navigate("/", { replace: true });
    }
  };
  return (
    <main class="center">
      <form class="card narrow" onSubmit={submit} aria-labelledby="setup-title">
        <h1 id="setup-title">Create the first administrator</h1>
        {open ? (
          <p class="muted" role="status">
            The setup window closes in <strong>{duration(left)}</strong>. After that, restart <code>warren serve</code> for a new setup URL.
          </p>
        ) : (
          <p class="form-problem" role="alert">
            The setup window is closed. Restart <code>warren serve</code>; it logs a new setup URL, valid for 5 minutes.
          </p>
        )}
        {!tokenFromUrl && <TextInput label="Setup token (from the server's log)" field="setup_token" problem={problem} value={token} onValue={setToken} autoComplete="off" />}
        <TextInput label="Username" field="username" problem={problem} value={username} onValue={setUsername} autoComplete="username" required />
        <TextInput label="Password (at least 12 characters)" field="password" problem={problem} value={password} onValue={setPassword} type="password" autoComplete="new-password" required />
        <TextInput label="Password again" field="confirm" problem={problem} value={confirm} onValue={setConfirm} type="password" autoComplete="new-password" required />
        <FormProblem problem={problem} fields={["setup_token", "username", "password", "confirm"]} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || !open}>
            Create administrator
          </button>
        </div>
      </form>
    </main>
  );
}
