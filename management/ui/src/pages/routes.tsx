import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function RoutesPage(_props: PageProps) {
  return <PageHeader title="RoutesPage" />;
}
