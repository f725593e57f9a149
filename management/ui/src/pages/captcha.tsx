// Captcha providers (/captcha): hosted checks (Turnstile, hCaptcha, reCAPTCHA v2) a WAF challenge
// rule can use instead of proof of work. The list, and one provider's editor (/captcha/new,
// /captcha/:id). The secret key is write-only: the form never shows it, and saving with the field
// empty keeps the stored one. Viewers see it read-only.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { useEditor } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import { CAPTCHA_KIND_LABELS, captchaKindLabel, formToProviderSpec, providerToForm, type ProviderForm } from "../lib/policy-form.ts";
import { Badge, EditorFooter, Empty, Loading, PageHeader, Problem, Select, TextInput, editorGate } from "../components/ui.tsx";
import "./policies.css";

const FORM_FIELDS = ["name", "kind", "site_key", "secret_key", "verify_url", "script_url"];

export function CaptchaProvidersPage(_props: PageProps) {
  const list = useLoad(() => api.policy.listCaptchaProviders({}), []);
  const providers = list.data?.providers ?? [];
  return (
    <section>
      <PageHeader title="Captcha providers">
        {isAdmin.value && (
          <a class="button-link primary" href="/captcha/new">
            New provider
          </a>
        )}
      </PageHeader>
      <p class="muted">Hosted checks a WAF challenge rule can show instead of the built-in proof of work. Choose one in the rule's "Check with".</p>
      <Problem problem={list.problem} />
      {list.loading && !list.data && <Loading what="captcha providers" />}
      {list.data && providers.length === 0 && <Empty>No captcha providers. Challenge rules use proof of work.</Empty>}
      {providers.length > 0 && (
        <div class="table-scroll">
          <table class="policy-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Site key</th>
                <th scope="col">Secret key</th>
              </tr>
            </thead>
            <tbody>
              {providers.map((p) => (
                <tr key={p.id} data-provider-id={p.id}>
                  <td>
                    <a href={`/captcha/${p.id}`}>{p.spec?.name || p.id}</a>
                  </td>
                  <td>{captchaKindLabel(p.spec?.kind)}</td>
                  <td>
                    <code>{p.spec?.siteKey}</code>
                  </td>
                  <td>{p.secretKeySet ? <Badge tone="ok">set</Badge> : <Badge tone="warn">missing</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function CaptchaProviderEditPage({ params }: PageProps) {
  const id = params.id;
  const admin = isAdmin.value;
  const editor = useEditor(id, {
    load: async () => (await api.policy.listCaptchaProviders({})).providers,
    toForm: providerToForm,
    toSpec: formToProviderSpec,
    create: async (spec) => (await api.policy.createCaptchaProvider({ spec })).provider,
    update: async (providerId, spec) => (await api.policy.updateCaptchaProvider({ id: providerId, spec })).provider,
    remove: (providerId) => api.policy.deleteCaptchaProvider({ id: providerId }),
    listHref: "/captcha",
    savedMessage: "Saved. Rules using this provider use it now.",
  });
  const { isNew, item: provider, problem } = editor;
  const update = (patch: Partial<ProviderForm>) => editor.update((d) => Object.assign(d, patch));

  const title = isNew ? "New captcha provider" : `Captcha provider ${provider?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the provider",
    ...editor.gate,
    notFound: (
      <>
        There is no captcha provider {id}. <a href="/captcha">Back to captcha providers</a>
      </>
    ),
    notFoundTitle: "Captcha provider not found",
    viewerOnNewText: "Only administrators can add captcha providers.",
  });
  if (gate !== undefined || !editor.form) return gate;
  const f = editor.form;

  const secretSet = provider?.secretKeySet === true;
  return (
    <section>
      <PageHeader title={title}>
        <a href="/captcha">All captcha providers</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this provider; only administrators can change it.</p>}
      <form class="policy-form" onSubmit={editor.save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <div class="card">
            <div class="grid2">
              <TextInput label="Name" field="name" problem={problem} value={f.name} onValue={(v) => update({ name: v })} />
              <Select label="Kind" field="kind" problem={problem} value={f.kind} options={CAPTCHA_KIND_LABELS} onValue={(v) => update({ kind: v })} />
              <TextInput label="Site key" field="site_key" problem={problem} hint="Public: it goes into the challenge page." value={f.siteKey} onValue={(v) => update({ siteKey: v })} />
              <TextInput
                label="Secret key"
                field="secret_key"
                problem={problem}
                type="password"
                autoComplete="new-password"
                placeholder={secretSet ? "•••••• (stored)" : ""}
                hint={secretSet ? "Stored and never shown. Leave empty to keep it; type a new one to replace it." : "Required. Warren sends it to the provider's siteverify only; it is never shown again."}
                value={f.secretKey}
                onValue={(v) => update({ secretKey: v })}
              />
              <TextInput label="Verify URL (optional)" field="verify_url" problem={problem} placeholder="the provider's siteverify" hint="https; empty = the provider's own." value={f.verifyUrl} onValue={(v) => update({ verifyUrl: v })} />
              <TextInput label="Script URL (optional)" field="script_url" problem={problem} placeholder="the provider's widget script" hint="https; empty = the provider's own. The page's CSP allows its origin." value={f.scriptUrl} onValue={(v) => update({ scriptUrl: v })} />
            </div>
          </div>
        </fieldset>
        <EditorFooter
          {...editor.footer}
          fields={FORM_FIELDS}
          admin={admin}
          noun="provider"
          listHref="/captcha"
          deleteQuestion={
            <>
              Delete captcha provider <strong>{provider?.spec?.name || id}</strong>? Rules that use it must be changed first.
            </>
          }
        />
      </form>
    </section>
  );
}
