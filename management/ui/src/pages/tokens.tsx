import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function TokensPage(_props: PageProps) {
  return <PageHeader title="TokensPage" />;
}
