export function NotFoundPage() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page here. <a href="/">Go to the overview</a>.
      </p>
    </section>
  );
}
