// The application shell: checks the session (GET /v1/auth/whoami), shows the login page when
// there is none, else the header (organization switcher with the role, navigation, log out)
// and the page for the current path, whose name is the document title ("PAGE · ORG · Chainloop").
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, UNAUTHENTICATED_EVENT, type OrgWithRole, type WhoAmI } from './api';
import { Link } from './components/Link';
import { Empty, ErrorState, Loading, messageOf, useAsync } from './components/States';
import { ApiTokensPage } from './pages/ApiTokens';
import { AuditPage } from './pages/Audit';
import { LoginPage } from './pages/Login';
import { MembersPage } from './pages/Members';
import { SettingsPage } from './pages/Settings';
import { TokenDetailsPage } from './pages/TokenDetails';
import { Permissions } from './permissions';
import { navigate, useLocation, type Location } from './router';
import { SessionContext, type SessionValue } from './session';
import { documentTitle, PageTitleContext } from './title';

const ORG_KEY = 'cl.organization';

type Auth =
  | { status: 'checking' }
  | { status: 'anonymous'; ended: boolean }
  | { status: 'error'; error: unknown }
  | { status: 'signed-in'; whoami: WhoAmI };

export function App() {
  const [auth, setAuth] = useState<Auth>({ status: 'checking' });
  const check = useCallback(() => {
    setAuth({ status: 'checking' });
    api.whoami().then(
      (whoami) => setAuth({ status: 'signed-in', whoami }),
      (error) =>
        setAuth(
          error instanceof ApiError && error.status === 401
            ? { status: 'anonymous', ended: false }
            : { status: 'error', error },
        ),
    );
  }, []);
  useEffect(check, [check]);
  useEffect(() => {
    const ended = () => setAuth((a) => (a.status === 'signed-in' ? { status: 'anonymous', ended: true } : a));
    window.addEventListener(UNAUTHENTICATED_EVENT, ended);
    return () => window.removeEventListener(UNAUTHENTICATED_EVENT, ended);
  }, []);

  useEffect(() => {
    if (auth.status === 'anonymous') document.title = documentTitle('Log in');
    else if (auth.status !== 'signed-in') document.title = documentTitle('');
  }, [auth.status]);

  switch (auth.status) {
    case 'checking':
      return (
        <main className="centered">
          <Loading what="your session" />
        </main>
      );
    case 'error':
      return (
        <main className="centered">
          <ErrorState error={auth.error} onRetry={check} />
        </main>
      );
    case 'anonymous':
      return <LoginPage sessionEnded={auth.ended} />;
    case 'signed-in':
      return <SignedIn whoami={auth.whoami} onLoggedOut={() => setAuth({ status: 'anonymous', ended: false })} />;
  }
}

function SignedIn({ whoami, onLoggedOut }: { whoami: WhoAmI; onLoggedOut: () => void }) {
  const loc = useLocation();
  const [orgs] = useAsync(() => api.organizations(), 'orgs');
  const [selected, setSelected] = useState<string>(() => localStorage.getItem(ORG_KEY) ?? '');

  const orgList: OrgWithRole[] = orgs.status === 'done' ? orgs.data : [];
  const orgName = orgList.some((o) => o.name === selected) ? selected : (orgList[0]?.name ?? '');
  const choose = (name: string) => {
    localStorage.setItem(ORG_KEY, name);
    setSelected(name);
  };

  const [org, reloadOrg] = useAsync(
    () => (orgName ? api.organization(orgName) : Promise.resolve(null)),
    `org:${orgName}`,
  );

  useEffect(() => {
    if (loc.path === '/' || loc.path === '/index.html') navigate('/api-tokens', { replace: true });
  }, [loc.path]);

  const route = routeOf(loc);
  const [pageTitle, setPageTitle] = useState<string | null>(null);
  useEffect(() => {
    document.title = documentTitle(pageTitle ?? route.title, orgName);
  }, [pageTitle, route.title, orgName]);

  const session: SessionValue | null = useMemo(() => {
    if (org.status !== 'done' || !org.data) return null;
    return {
      whoami,
      organizations: orgList,
      org: org.data.organization,
      role: org.data.role,
      can: Permissions.of(org.data),
      reloadOrg,
    };
  }, [whoami, orgList, org, reloadOrg]);

  let body;
  if (orgs.status === 'loading' || (orgName && org.status === 'loading' && !session)) {
    body = <Loading what="your organizations" />;
  } else if (orgs.status === 'error') {
    body = <ErrorState error={orgs.error} onRetry={() => window.location.reload()} />;
  } else if (orgList.length === 0) {
    body = (
      <Empty title="You are not a member of any organization yet">
        Ask an owner to invite you, or create one with <code>chainloop organization create --name NAME</code>.
      </Empty>
    );
  } else if (org.status === 'error') {
    body = <ErrorState error={org.error} onRetry={reloadOrg} />;
  } else if (session) {
    body = (
      <SessionContext.Provider value={session}>
        <PageTitleContext.Provider value={setPageTitle}>{route.render()}</PageTitleContext.Provider>
      </SessionContext.Provider>
    );
  }

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header
        whoami={whoami}
        orgs={orgList}
        orgName={orgName}
        role={session?.role ?? orgList.find((o) => o.name === orgName)?.role ?? ''}
        onChoose={choose}
        onLoggedOut={onLoggedOut}
        path={loc.path}
      />
      <main id="main" className="content" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

const NAV = [
  { href: '/api-tokens', label: 'API Tokens' },
  { href: '/members', label: 'Members' },
  { href: '/audit', label: 'Audit log' },
  { href: '/settings?tab=api-tokens', label: 'Settings' },
];

function Header({
  whoami,
  orgs,
  orgName,
  role,
  onChoose,
  onLoggedOut,
  path,
}: {
  whoami: WhoAmI;
  orgs: OrgWithRole[];
  orgName: string;
  role: string;
  onChoose: (name: string) => void;
  onLoggedOut: () => void;
  path: string;
}) {
  const [logoutError, setLogoutError] = useState('');
  const [busy, setBusy] = useState(false);
  const logout = async () => {
    setBusy(true);
    setLogoutError('');
    try {
      await api.logout();
      navigate('/', { replace: true });
      onLoggedOut();
    } catch (e) {
      setLogoutError(messageOf(e));
      setBusy(false);
    }
  };
  const who = whoami.principal.email || whoami.principal.name || whoami.principal.id;
  return (
    <header className="topbar">
      <div className="topbar-row">
        <span className="brand">Chainloop</span>
        {orgs.length > 0 && (
          <div className="org-switcher">
            <label htmlFor="org-select">Organization</label>
            <select id="org-select" value={orgName} onChange={(e) => onChoose(e.target.value)}>
              {orgs.map((o) => (
                <option key={o.id} value={o.name}>
                  {o.name} ({o.role})
                </option>
              ))}
            </select>
            {role && (
              <span className={`badge role-${role}`} data-testid="current-role">
                {role}
              </span>
            )}
          </div>
        )}
        <div className="user">
          <span className="user-email" title={who}>
            {who}
          </span>
          <button type="button" className="btn" onClick={logout} disabled={busy}>
            Log out
          </button>
        </div>
      </div>
      {logoutError && (
        <p className="inline-error" role="alert">
          {logoutError}
        </p>
      )}
      <nav aria-label="Main">
        <ul className="nav">
          {NAV.map((n) => {
            const base = n.href.split('?')[0];
            const current = path === base || path.startsWith(`${base}/`);
            return (
              <li key={n.href}>
                <Link href={n.href} aria-current={current ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
    </header>
  );
}

// The page for a path and its name (the document title; a page may refine it with usePageTitle).
interface Route {
  title: string;
  render: () => ReactNode;
}

function routeOf(loc: Location): Route {
  const token = /^\/api-tokens\/([^/]+)$/.exec(loc.path);
  if (token) {
    const id = decodeURIComponent(token[1]);
    return { title: 'API token', render: () => <TokenDetailsPage id={id} key={id} /> };
  }
  switch (loc.path) {
    case '/':
    case '/index.html':
    case '/api-tokens':
      return { title: 'API tokens', render: () => <ApiTokensPage /> };
    case '/settings':
      return { title: 'Settings', render: () => <SettingsPage tab={loc.query.get('tab') ?? 'api-tokens'} /> };
    case '/members':
      return { title: 'Members', render: () => <MembersPage /> };
    case '/audit':
      return { title: 'Audit log', render: () => <AuditPage /> };
    default:
      return {
        title: 'Page not found',
        render: () => (
          <Empty title="Page not found">
            There is nothing at <code>{loc.path}</code>. <Link href="/api-tokens">Go to API tokens</Link>.
          </Empty>
        ),
      };
  }
}
