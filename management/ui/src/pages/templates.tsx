// Response templates: the bodies block rules (and later other policies) answer with. Built-in ones
// can be edited but not deleted.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { Badge, Empty, Loading, PageHeader, Problem } from "../components/ui.tsx";
import { TemplateKind, type Template } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import "./policies.css";

export function kindName(kind: TemplateKind | undefined): string {
  return kind === TemplateKind.GENERIC_BODY ? "generic body" : "unknown";
}

export function byteSize(text: string): string {
  const n = new TextEncoder().encode(text).length;
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

export function TemplatesPage(_props: PageProps) {
  const list = useLoad(() => api.policy.listTemplates({}), []);
  const templates: Template[] = list.data?.templates ?? [];
  return (
    <section>
      <PageHeader title="Templates">
        {isAdmin.value && (
          <a class="button-link primary" href="/templates/new">
            New template
          </a>
        )}
      </PageHeader>
      <p class="muted">
        Response bodies with <code>{"{{placeholders}}"}</code> filled in when Warren answers, such as the page a WAF block rule shows.
      </p>
      <Problem problem={list.problem} />
      {list.loading && !list.data && <Loading what="templates" />}
      {list.data && templates.length === 0 && <Empty>No templates.</Empty>}
      {templates.length > 0 && (
        <div class="table-scroll">
          <table class="policy-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Content type</th>
                <th scope="col">Size</th>
              </tr>
            </thead>
            <tbody>
              {templates.map((t) => (
                <tr key={t.id} data-template-id={t.id}>
                  <td>
                    <a href={`/templates/${t.id}`}>{t.spec?.name || t.id}</a> {t.builtIn && <Badge tone="muted">built in</Badge>}
                  </td>
                  <td>{kindName(t.spec?.kind)}</td>
                  <td>{t.spec?.contentType || <span class="muted">text/html; charset=utf-8</span>}</td>
                  <td>{byteSize(t.spec?.body ?? "")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
