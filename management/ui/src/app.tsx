// The shell: navigation, and the route table (one URL per page). Pages that need a session redirect
// to login (and back); viewers see the same pages without write controls.
import type { ComponentType } from "preact";
import { useEffect } from "preact/hooks";
import { location$, match, navigate } from "./lib/router.ts";
import { isAdmin, loginPath, logout, me, ready, setup } from "./lib/session.ts";
import { SetupPage } from "./pages/setup.tsx";
import { LoginPage } from "./pages/login.tsx";
import { AccountPage } from "./pages/account.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { NotFoundPage } from "./pages/not-found.tsx";
import { AgentsPage } from "./pages/agents.tsx";
import { AgentPage } from "./pages/agent.tsx";
import { ListenersPage } from "./pages/listeners.tsx";
import { ListenerPage } from "./pages/listener.tsx";
import { CertificatesPage } from "./pages/certificates.tsx";
import { RoutesPage } from "./pages/routes.tsx";
import { RouteEditPage } from "./pages/route-edit.tsx";
import { WafRulesPage } from "./pages/waf-rules.tsx";
import { WafRuleEditPage } from "./pages/waf-rule-edit.tsx";
import { TemplatesPage } from "./pages/templates.tsx";
import { CaptchaProviderEditPage, CaptchaProvidersPage } from "./pages/captcha.tsx";
import { TemplateEditPage } from "./pages/template-edit.tsx";
import { RateLimitsPage } from "./pages/rate-limits.tsx";
import { RateLimitEditPage } from "./pages/rate-limit-edit.tsx";
import { ShapersPage } from "./pages/shapers.tsx";
import { ShaperEditPage } from "./pages/shaper-edit.tsx";
import { CachePage } from "./pages/cache.tsx";
import { CacheRuleEditPage } from "./pages/cache-rule-edit.tsx";
import { RequestsPage } from "./pages/requests.tsx";
import { UsersPage } from "./pages/users.tsx";
import { TokensPage } from "./pages/tokens.tsx";

export interface PageProps {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
}

interface RouteEntry {
  readonly path: string;
  readonly page: ComponentType<PageProps>;
  /** In the navigation bar, with this label. */
  readonly nav?: string;
  readonly adminOnly?: boolean;
}

const ROUTES: RouteEntry[] = [
  { path: "/", page: OverviewPage, nav: "Overview" },
  { path: "/routes", page: RoutesPage, nav: "Routes" },
  { path: "/routes/new", page: RouteEditPage },
  { path: "/routes/:id", page: RouteEditPage },
  { path: "/waf", page: WafRulesPage, nav: "WAF" },
  { path: "/waf/new", page: WafRuleEditPage },
  { path: "/waf/:id", page: WafRuleEditPage },
  { path: "/templates", page: TemplatesPage, nav: "Templates" },
  { path: "/templates/new", page: TemplateEditPage },
  { path: "/templates/:id", page: TemplateEditPage },
  { path: "/captcha", page: CaptchaProvidersPage, nav: "Captcha" },
  { path: "/captcha/new", page: CaptchaProviderEditPage },
  { path: "/captcha/:id", page: CaptchaProviderEditPage },
  { path: "/rate-limits", page: RateLimitsPage, nav: "Rate limits" },
  { path: "/rate-limits/new", page: RateLimitEditPage },
  { path: "/rate-limits/:id", page: RateLimitEditPage },
  { path: "/shapers", page: ShapersPage, nav: "Shapers" },
  { path: "/shapers/new", page: ShaperEditPage },
  { path: "/shapers/:id", page: ShaperEditPage },
  { path: "/cache", page: CachePage, nav: "Cache" },
  { path: "/cache/rules/new", page: CacheRuleEditPage },
  { path: "/cache/rules/:id", page: CacheRuleEditPage },
  { path: "/listeners", page: ListenersPage, nav: "Listeners" },
  { path: "/listeners/new", page: ListenerPage },
  { path: "/listeners/:id", page: ListenerPage },
  { path: "/certificates", page: CertificatesPage, nav: "Certificates" },
  { path: "/agents", page: AgentsPage, nav: "Agents" },
  { path: "/agents/:id", page: AgentPage },
  { path: "/requests", page: RequestsPage, nav: "Requests" },
  { path: "/users", page: UsersPage, nav: "Users", adminOnly: true },
  { path: "/tokens", page: TokensPage, nav: "API tokens" },
  { path: "/account", page: AccountPage },
];

function Nav() {
  const path = location$.value.path;
  const user = me.value?.user;
  return (
    <header class="top">
      <a class="brand" href="/">
        Warren
      </a>
      <nav aria-label="Main">
        <ul>
          {ROUTES.filter((r) => r.nav && (!r.adminOnly || isAdmin.value)).map((r) => {
            const active = r.path === "/" ? path === "/" : path === r.path || path.startsWith(`${r.path}/`);
            return (
              <li key={r.path}>
                <a href={r.path} aria-current={active ? "page" : undefined}>
                  {r.nav}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      {user && (
        <div class="who">
          <a href="/account" title="Your account">
            {user.username}
          </a>
          {!isAdmin.value && <span class="badge badge-muted">viewer</span>}
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      )}
    </header>
  );
}

export function App() {
  const { path, query } = location$.value;
  const signedIn = me.value !== undefined;
  const needsSetup = setup.value?.setupRequired === true;
  useEffect(() => {
    if (!ready.value) return;
    if (needsSetup && path !== "/setup") navigate(`/setup${window.location.search}`, { replace: true });
    else if (!needsSetup && !signedIn && path !== "/login" && path !== "/setup") navigate(loginPath(), { replace: true });
  }, [ready.value, needsSetup, signedIn, path]);

  if (!ready.value) return <main class="center" aria-busy="true" />;
  if (path === "/setup") return <SetupPage />;
  if (path === "/login") return <LoginPage next={query.get("next")} />;
  if (!signedIn) return <main class="center" aria-busy="true" />;

  let Page: ComponentType<PageProps> = NotFoundPage;
  let params: Record<string, string> = {};
  for (const r of ROUTES) {
    const m = match(r.path, path);
    if (m && (!r.adminOnly || isAdmin.value)) {
      Page = r.page;
      params = m;
      break;
    }
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Nav />
      <main id="main" tabIndex={-1}>
        {/* Keyed by path: another URL is a fresh page (a form never starts from the last one's state,
            and no effect has to reset it after the user may already have typed). */}
        <Page key={path} params={params} query={query} />
      </main>
    </>
  );
}
