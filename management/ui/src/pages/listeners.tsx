import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function ListenersPage(_props: PageProps) {
  return <PageHeader title="ListenersPage" />;
}
