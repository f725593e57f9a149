import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function AgentPage(_props: PageProps) {
  return <PageHeader title="AgentPage" />;
}
