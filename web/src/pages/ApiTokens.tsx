// API Tokens page (/api-tokens): active, expired and revoked tokens (the server's `state`
// decides which tab a token is in) with the CLI's columns, warnings for tokens that expire or are
// auto-revoked within 7 days, the "Create token" dialog and revocation with confirmation. Each
// control is shown where the server says the caller holds its permission: org-wide, or in the
// projects listed for them (a project admin sees, creates and revokes that project's tokens).
import { useState } from 'react';
import { api, type ApiToken, type TokenState } from '../api';
import { Dialog } from '../components/Dialog';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading, messageOf, Notice, useAsync } from '../components/States';
import { Time } from '../components/Time';
import { TokenStateBadge } from '../components/TokenStateBadge';
import { PERM } from '../permissions';
import { navigate, useLocation } from '../router';
import { autoRevokeSoon, expiresSoon } from '../rules';
import { useSession } from '../session';
import { canRevokeToken, loadTokens, readableProjects, revocationReasonLabel, STATE_LABEL } from '../tokens';
import { CreateTokenDialog } from './CreateTokenDialog';

const STATES: TokenState[] = ['active', 'expired', 'revoked'];

const EMPTY: Record<TokenState, string> = {
  active: 'No active API tokens',
  expired: 'No expired API tokens',
  revoked: 'No revoked API tokens',
};

export function ApiTokensPage() {
  const { org, role, can } = useSession();
  const loc = useLocation();
  const asked = loc.query.get('status');
  const status: TokenState = STATES.find((s) => s === asked) ?? 'active';
  // Everything when read is granted org-wide, else the tokens of each project where it is.
  const readProjects = readableProjects(can);
  const canRead = readProjects === undefined || readProjects.length > 0;
  const canCreate = can.anywhere(PERM.apiTokenCreate);
  const canRevoke = (t: ApiToken) => t.state !== 'revoked' && canRevokeToken(can, t);
  const [tokens, reload] = useAsync(
    () => loadTokens(org.name, status, readProjects),
    `${org.name}:${status}:${readProjects?.join(',') ?? '*'}`,
  );
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [flash, setFlash] = useState('');

  const setStatus = (s: TokenState) => navigate(s === 'active' ? '/api-tokens' : `/api-tokens?status=${s}`);

  return (
    <section aria-labelledby="tokens-title">
      <div className="page-head">
        <h1 id="tokens-title">API Tokens</h1>
        {canCreate && (
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            Create token
          </button>
        )}
      </div>
      <p className="muted">
        Tokens let CI systems and scripts talk to the control plane as <strong>{org.name}</strong>. Use one with{' '}
        <code>CHAINLOOP_TOKEN</code>.
      </p>
      {flash && (
        <p className="flash" role="status">
          {flash}
        </p>
      )}
      {!canRead ? (
        <Notice>
          Your role in {org.name} is <strong>{role}</strong>: it does not let you see or manage API tokens.
        </Notice>
      ) : (
        <>
          <div className="tabs" role="tablist" aria-label="Token status">
            {STATES.map((s, i) => (
              <button
                key={s}
                type="button"
                role="tab"
                id={`tab-${s}`}
                aria-selected={status === s}
                aria-controls="tokens-panel"
                tabIndex={status === s ? 0 : -1}
                className="tab"
                onClick={() => setStatus(s)}
                onKeyDown={(e) => {
                  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                    const step = e.key === 'ArrowRight' ? 1 : STATES.length - 1;
                    const next = STATES[(i + step) % STATES.length];
                    setStatus(next);
                    document.getElementById(`tab-${next}`)?.focus();
                  }
                }}
              >
                {STATE_LABEL[s]}
              </button>
            ))}
          </div>
          <div id="tokens-panel" role="tabpanel" aria-labelledby={`tab-${status}`}>
            {tokens.status === 'loading' && <Loading what="API tokens" />}
            {tokens.status === 'error' && <ErrorState error={tokens.error} onRetry={reload} />}
            {tokens.status === 'done' &&
              (tokens.data.length === 0 ? (
                <Empty title={EMPTY[status]}>
                  {status === 'active' && canCreate
                    ? 'Create one for your CI with "Create token".'
                    : status === 'active'
                      ? 'Nobody has created a token yet.'
                      : status === 'expired'
                        ? 'Tokens past their expiry date appear here until they are revoked.'
                        : 'Revoked tokens appear here.'}
                </Empty>
              ) : (
                <TokenTable
                  tokens={tokens.data}
                  status={status}
                  canRevoke={canRevoke}
                  onRevoke={setRevoking}
                />
              ))}
          </div>
        </>
      )}
      {creating && (
        <CreateTokenDialog
          onClose={(created) => {
            setCreating(false);
            if (created) {
              setFlash(`API token ${created} created.`);
              if (status === 'active') reload();
              else setStatus('active');
            }
          }}
        />
      )}
      {revoking && (
        <RevokeDialog
          token={revoking}
          onClose={(done) => {
            setRevoking(null);
            if (done) {
              setFlash(`API token ${revoking.name} revoked.`);
              reload();
            }
          }}
        />
      )}
    </section>
  );
}

function TokenTable({
  tokens,
  status,
  canRevoke,
  onRevoke,
}: {
  tokens: ApiToken[];
  status: TokenState;
  canRevoke: (t: ApiToken) => boolean;
  onRevoke: (t: ApiToken) => void;
}) {
  const now = new Date();
  // The server sends an auto-revoke date only where one applies (never for expired or revoked).
  const showAutoRevoke = tokens.some((t) => t.auto_revoke_at);
  const anyRevokeSoon = tokens.some((t) => autoRevokeSoon(t.auto_revoke_at, now));
  const anyExpireSoon = tokens.some((t) => expiresSoon(t, now));
  const actions = tokens.some(canRevoke);
  return (
    <>
      <table className="table">
        <caption className="visually-hidden">{STATE_LABEL[status]} API tokens</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Scope</th>
            <th scope="col">Description</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            {status === 'revoked' && <th scope="col">Revoked</th>}
            <th scope="col">Last used</th>
            {showAutoRevoke && <th scope="col">Auto revoke</th>}
            {actions && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => {
            const soon = autoRevokeSoon(t.auto_revoke_at, now);
            const expiring = expiresSoon(t, now);
            return (
              <tr key={t.id} data-token-name={t.name} data-token-state={t.state}>
                <td data-label="Name">
                  <Link href={`/api-tokens/${encodeURIComponent(t.id)}`} className="mono">
                    {t.name}
                  </Link>
                </td>
                <td data-label="State">
                  <TokenStateBadge state={t.state} />
                </td>
                <td data-label="Scope">{t.scope === 'project' ? `project/${t.project ?? ''}` : 'global'}</td>
                <td data-label="Description">{t.description || <span className="muted">—</span>}</td>
                <td data-label="Created">
                  <Time at={t.created_at} />
                </td>
                <td data-label="Expires" className={expiring ? 'warn' : undefined}>
                  {t.expires_at ? <Time at={t.expires_at} /> : <span className="muted">never</span>}
                  {expiring && (
                    <span className="badge badge-warn" title="Expires within 7 days" data-testid="expires-soon">
                      ⚠ expires within 7 days
                    </span>
                  )}
                </td>
                {status === 'revoked' && (
                  <td data-label="Revoked">
                    <Time at={t.revoked_at} />
                    {t.revocation_reason && <span className="badge reason">{revocationReasonLabel(t.revocation_reason)}</span>}
                  </td>
                )}
                <td data-label="Last used">{t.last_used_at ? <Time at={t.last_used_at} /> : <span className="muted">never</span>}</td>
                {showAutoRevoke && (
                  <td data-label="Auto revoke" className={soon ? 'warn' : undefined}>
                    {t.auto_revoke_at ? <Time at={t.auto_revoke_at} /> : <span className="muted">—</span>}
                    {soon && (
                      <span
                        className="badge badge-warn"
                        title="Will be revoked for inactivity within 7 days unless it is used"
                        data-testid="auto-revoke-soon"
                      >
                        ⚠ within 7 days
                      </span>
                    )}
                  </td>
                )}
                {actions && (
                  <td data-label="Actions" className="actions">
                    {canRevoke(t) && (
                      <button
                        type="button"
                        className="btn btn-danger btn-small"
                        onClick={() => onRevoke(t)}
                        aria-label={`Revoke ${t.name}`}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {anyExpireSoon && (
        <p className="warning-text" role="note">
          ⚠ Marked tokens expire within 7 days: create a replacement before they stop working.
        </p>
      )}
      {anyRevokeSoon && (
        <p className="warning-text" role="note">
          ⚠ Marked tokens will be revoked for inactivity within 7 days unless they are used. Change the threshold in{' '}
          <Link href="/settings?tab=api-tokens">Settings</Link>.
        </p>
      )}
    </>
  );
}

export function RevokeDialog({ token, onClose }: { token: ApiToken; onClose: (done: boolean) => void }) {
  const { org } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const revoke = async () => {
    setBusy(true);
    setError('');
    try {
      await api.revokeToken(org.name, token.id);
      onClose(true);
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Revoke API token" onClose={() => onClose(false)}>
      <p>
        Revoke <strong className="mono">{token.name}</strong>? Anything using it is refused from now on. This cannot
        be undone.
      </p>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={() => onClose(false)} data-autofocus>
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={revoke} disabled={busy}>
          {busy ? 'Revoking…' : 'Revoke token'}
        </button>
      </div>
    </Dialog>
  );
}
