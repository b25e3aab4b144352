import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { checkSession, hasCsrf, setUnauthorizedHandler, signOut } from './api';
import { Layout } from './components/Layout';
import { SignIn } from './components/SignIn';
import { connectLive, disconnectLive } from './live';
import { AlertsPage } from './pages/Alerts';
import { JobByName } from './pages/JobByName';
import { JobEditPage } from './pages/JobEdit';
import { JobPage } from './pages/Job';
import { JobsPage } from './pages/Jobs';
import { NotFound } from './pages/NotFound';
import { OverviewPage } from './pages/Overview';
import { ReviewPage } from './pages/Review';
import { RunPage } from './pages/Run';
import { useRoute, type Route } from './router';
import './styles.css';

type Auth = 'checking' | 'out' | 'in';

/** The page at a route; null when there is none (the not-found page, titled so). */
function page(route: Route) {
  const [a, b, c] = route.parts;
  const id = b !== undefined && /^\d+$/.test(b) ? b : undefined;
  if (!a) return <OverviewPage />;
  if (a === 'jobs' && !b) return <JobsPage params={route.params} />;
  if (a === 'jobs' && b === 'new') return <JobEditPage />;
  if (a === 'jobs' && id && !c) return <JobPage key={id} id={Number(id)} />;
  if (a === 'jobs' && id && c === 'edit') return <JobEditPage key={id} id={Number(id)} />;
  if (a === 'jobs' && b && !id) {
    // A name may hold "/" (written as is or as %2F): all that follows jobs/ is the name, but a last "edit".
    const rest = route.parts.slice(1);
    const edit = rest.length > 1 && rest[rest.length - 1] === 'edit';
    const name = (edit ? rest.slice(0, -1) : rest).join('/');
    return <JobByName key={`${name}/${edit}`} name={name} edit={edit} />;
  }
  if (a === 'runs' && id) return <RunPage key={id} id={Number(id)} />;
  if (a === 'alerts') return <AlertsPage />;
  if (a === 'review') return <ReviewPage />;
  return null;
}

function App() {
  // A reload in a signed-in tab (the CSRF value is in sessionStorage) shows the page at once and
  // checks the session alongside; a 401 from either sends the tab to the sign-in form.
  const [auth, setAuth] = useState<Auth>(() => (hasCsrf() ? 'in' : 'checking'));
  const route = useRoute();

  useEffect(() => {
    setUnauthorizedHandler(() => setAuth('out'));
    checkSession().then(
      (ok) => setAuth(ok ? 'in' : 'out'),
      () => setAuth('out'),
    );
  }, []);

  useEffect(() => {
    if (auth !== 'in') return;
    connectLive(async () => {
      const ok = await checkSession();
      if (!ok) setAuth('out');
      return ok;
    });
    return disconnectLive;
  }, [auth]);

  const view = page(route);
  const found = view !== null;
  useEffect(() => {
    const name = route.parts[0] ?? 'overview';
    const title = !found ? 'Not found' : name === 'overview' ? 'Overview' : name[0]!.toUpperCase() + name.slice(1);
    document.title = `${title} · smart-cron`;
  }, [route, found]);

  if (auth === 'checking') return <p class="muted center">Loading…</p>;
  if (auth === 'out') return <SignIn onSignedIn={() => setAuth('in')} />;
  return (
    <Layout section={route.parts[0] ?? ''} onSignOut={() => signOut().finally(() => setAuth('out'))}>
      {view ?? <NotFound />}
    </Layout>
  );
}

render(<App />, document.getElementById('app')!);
