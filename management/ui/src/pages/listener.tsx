import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function ListenerPage(_props: PageProps) {
  return <PageHeader title="ListenerPage" />;
}
