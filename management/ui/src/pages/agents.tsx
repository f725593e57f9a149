import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function AgentsPage(_props: PageProps) {
  return <PageHeader title="AgentsPage" />;
}
