import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { checkSession, hasCsrf, setUnauthorizedHandler, signOut } from './api';
import { Layout } from './components/Layout';
import { SignIn } from './components/SignIn';
import { connectLive, disconnectLive } from './live';
import { AlertsPage } from './pages/Alerts';
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

function page(route: Route) {
  const [a, b, c] = route.parts;
  if (!a) return <OverviewPage />;
  if (a === 'jobs' && !b) return <JobsPage params={route.params} />;
  if (a === 'jobs' && b === 'new') return <JobEditPage />;
  if (a === 'jobs' && b && /^\d+$/.test(b) && !c) return <JobPage key={b} id={Number(b)} />;
  if (a === 'jobs' && b && /^\d+$/.test(b) && c === 'edit') return <JobEditPage key={b} id={Number(b)} />;
  if (a === 'runs' && b && /^\d+$/.test(b)) return <RunPage key={b} id={Number(b)} />;
  if (a === 'alerts') return <AlertsPage />;
  if (a === 'review') return <ReviewPage />;
  return <NotFound />;
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

  useEffect(() => {
    const name = route.parts[0] ?? 'overview';
    document.title = `${name === 'overview' ? 'Overview' : name[0]!.toUpperCase() + name.slice(1)} · smart-cron`;
  }, [route]);

  if (auth === 'checking') return <p class="muted center">Loading…</p>;
  if (auth === 'out') return <SignIn onSignedIn={() => setAuth('in')} />;
  return (
    <Layout section={route.parts[0] ?? ''} onSignOut={() => signOut().finally(() => setAuth('out'))}>
      {page(route)}
    </Layout>
  );
}

render(<App />, document.getElementById('app')!);
