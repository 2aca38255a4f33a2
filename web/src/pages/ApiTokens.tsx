// API Tokens page (/api-tokens): active and revoked tokens with the CLI's columns and where each
// was last used from, the "Create token" dialog, rotation and revocation with confirmation. Each control is shown where the server
// says the caller holds its permission: org-wide, or in the projects listed for them (a project
// admin sees, creates and revokes that project's tokens).
import { useState } from 'react';
import { api, type ApiToken } from '../api';
import { Dialog } from '../components/Dialog';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading, messageOf, Notice, useAsync } from '../components/States';
import { Time } from '../components/Time';
import { PERM } from '../permissions';
import { navigate, useLocation } from '../router';
import { autoRevokeSoon } from '../rules';
import { useSession } from '../session';
import { CreateTokenDialog } from './CreateTokenDialog';
import { LastUsedFrom, RotateDialog, RotationNote } from './TokenDetails';

type Status = 'active' | 'revoked';

export function ApiTokensPage() {
  const { org, role, can } = useSession();
  const loc = useLocation();
  const status: Status = loc.query.get('status') === 'revoked' ? 'revoked' : 'active';
  // Everything when read is granted org-wide, else the tokens of each project where it is.
  const readProjects = can.orgWide(PERM.apiTokenRead) ? undefined : can.projectsWith(PERM.apiTokenRead);
  const canRead = readProjects === undefined || readProjects.length > 0;
  const canCreate = can.anywhere(PERM.apiTokenCreate);
  const canRevoke = (t: ApiToken) =>
    t.scope === 'project' && t.project
      ? can.inProject(PERM.apiTokenRevoke, t.project)
      : can.orgWide(PERM.apiTokenRevoke);
  // Rotation needs both create and revoke in the token's scope; a rotated token is rotated no more.
  const canRotate = (t: ApiToken) =>
    !t.rotated_to &&
    canRevoke(t) &&
    (t.scope === 'project' && t.project ? can.inProject(PERM.apiTokenCreate, t.project) : can.orgWide(PERM.apiTokenCreate));
  const [tokens, reload] = useAsync(
    () =>
      readProjects === undefined
        ? api.tokens(org.name, status)
        : Promise.all(readProjects.map((p) => api.tokens(org.name, status, p))).then((lists) => lists.flat()),
    `${org.name}:${status}:${readProjects?.join(',') ?? '*'}`,
  );
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [rotating, setRotating] = useState<ApiToken | null>(null);
  const [flash, setFlash] = useState('');

  const setStatus = (s: Status) => navigate(s === 'active' ? '/api-tokens' : '/api-tokens?status=revoked');

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
            {(['active', 'revoked'] as const).map((s) => (
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
                    const next = s === 'active' ? 'revoked' : 'active';
                    setStatus(next);
                    document.getElementById(`tab-${next}`)?.focus();
                  }
                }}
              >
                {s === 'active' ? 'Active' : 'Revoked'}
              </button>
            ))}
          </div>
          <div id="tokens-panel" role="tabpanel" aria-labelledby={`tab-${status}`}>
            {tokens.status === 'loading' && <Loading what="API tokens" />}
            {tokens.status === 'error' && <ErrorState error={tokens.error} onRetry={reload} />}
            {tokens.status === 'done' &&
              (tokens.data.length === 0 ? (
                <Empty title={status === 'active' ? 'No active API tokens' : 'No revoked API tokens'}>
                  {status === 'active' && canCreate
                    ? 'Create one for your CI with "Create token".'
                    : status === 'active'
                      ? 'Nobody has created a token yet.'
                      : 'Revoked tokens appear here.'}
                </Empty>
              ) : (
                <TokenTable
                  tokens={tokens.data}
                  status={status}
                  canRevoke={canRevoke}
                  onRevoke={setRevoking}
                  canRotate={canRotate}
                  onRotate={setRotating}
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
      {rotating && (
        <RotateDialog
          token={rotating}
          onClose={(done) => {
            setRotating(null);
            if (done) {
              setFlash(`API token ${rotating.name} rotated.`);
              reload();
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
  canRotate,
  onRotate,
}: {
  tokens: ApiToken[];
  status: Status;
  canRevoke: (t: ApiToken) => boolean;
  onRevoke: (t: ApiToken) => void;
  canRotate: (t: ApiToken) => boolean;
  onRotate: (t: ApiToken) => void;
}) {
  const now = new Date();
  const showAutoRevoke = status === 'active' && tokens.some((t) => t.auto_revoke_at);
  const anySoon = showAutoRevoke && tokens.some((t) => autoRevokeSoon(t.auto_revoke_at, now));
  const actions = status === 'active' && tokens.some(canRevoke);
  return (
    <>
      <table className="table">
        <caption className="visually-hidden">{status === 'active' ? 'Active' : 'Revoked'} API tokens</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
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
            return (
              <tr key={t.id} data-token-name={t.name}>
                <td data-label="Name">
                  <span className="mono">{t.name}</span>
                </td>
                <td data-label="Scope">{t.scope === 'project' ? `project/${t.project ?? ''}` : 'global'}</td>
                <td data-label="Description">{t.description || <span className="muted">—</span>}</td>
                <td data-label="Created">
                  <Time at={t.created_at} />
                </td>
                <td data-label="Expires">
                  {t.expires_at ? <Time at={t.expires_at} /> : <span className="muted">never</span>}
                  <RotationNote token={t} />
                </td>
                {status === 'revoked' && (
                  <td data-label="Revoked">
                    <Time at={t.revoked_at} />
                    {t.revocation_reason && (
                      <span className="badge reason">
                        {t.revocation_reason === 'inactive' ? 'inactive (auto revoke)' : t.revocation_reason}
                      </span>
                    )}
                  </td>
                )}
                <td data-label="Last used">
                  {t.last_used_at ? <Time at={t.last_used_at} /> : <span className="muted">never</span>}
                  <LastUsedFrom token={t} />
                </td>
                {showAutoRevoke && (
                  <td data-label="Auto revoke" className={soon ? 'warn' : undefined}>
                    {t.auto_revoke_at ? <Time at={t.auto_revoke_at} /> : <span className="muted">—</span>}
                    {soon && (
                      <span className="badge badge-warn" title="Will be revoked for inactivity within 7 days unless it is used">
                        ⚠ within 7 days
                      </span>
                    )}
                  </td>
                )}
                {actions && (
                  <td data-label="Actions" className="actions">
                    {canRotate(t) && (
                      <button
                        type="button"
                        className="btn btn-small"
                        onClick={() => onRotate(t)}
                        aria-label={`Rotate ${t.name}`}
                      >
                        Rotate
                      </button>
                    )}
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
      {anySoon && (
        <p className="warning-text" role="note">
          ⚠ Marked tokens will be revoked for inactivity within 7 days unless they are used. Change the threshold in{' '}
          <Link href="/settings?tab=api-tokens">Settings</Link>.
        </p>
      )}
    </>
  );
}

function RevokeDialog({ token, onClose }: { token: ApiToken; onClose: (done: boolean) => void }) {
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
        <button type="button" className="btn" onClick={() => onClose(false)} autoFocus>
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={revoke} disabled={busy}>
          {busy ? 'Revoking…' : 'Revoke token'}
        </button>
      </div>
    </Dialog>
  );
}
