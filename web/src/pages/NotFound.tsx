export function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{location.hash}</code>. <a href="#/">Back to the overview</a>.
      </p>
    </section>
  );
}
