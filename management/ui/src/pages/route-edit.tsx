import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function RouteEditPage(_props: PageProps) {
  return <PageHeader title="RouteEditPage" />;
}
