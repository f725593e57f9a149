import type { PageProps } from "../app.tsx";
import { PageHeader } from "../components/ui.tsx";

export function UsersPage(_props: PageProps) {
  return <PageHeader title="UsersPage" />;
}
