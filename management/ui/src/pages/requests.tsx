import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function RequestsPage(_props: PageProps) {
  return <PageHeader title="RequestsPage" />;
}
