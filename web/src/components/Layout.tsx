import type { ComponentChildren } from 'preact';
import { useLiveStatus } from '../live';
import { Toasts } from './toast';

const NAV: { href: string; label: string; section: string }[] = [
  { href: '#/', label: 'Overview', section: '' },
  { href: '#/jobs', label: 'Jobs', section: 'jobs' },
  { href: '#/alerts', label: 'Alerts', section: 'alerts' },
  { href: '#/review', label: 'Review', section: 'review' },
];

const LIVE_TEXT = { live: 'live', connecting: 'connecting…', offline: 'offline' } as const;

export function Layout({ section, onSignOut, children }: { section: string; onSignOut: () => void; children: ComponentChildren }) {
  const live = useLiveStatus();
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          smart-cron
        </a>
        <nav aria-label="main">
          {NAV.map((n) => (
            <a key={n.href} href={n.href} aria-current={section === n.section ? 'page' : undefined} data-testid={`nav-${n.section || 'overview'}`}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class={`live live-${live}`} data-testid="live-status" title="server-sent events">
          <span class="live-dot" aria-hidden="true" />
          {LIVE_TEXT[live]}
        </span>
        <button type="button" class="link" onClick={onSignOut} data-testid="signout">
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <Toasts />
    </>
  );
}
