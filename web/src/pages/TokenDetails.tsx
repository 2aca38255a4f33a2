// Token details page (/api-tokens/ID): everything the API says about one token (state, scope,
// permissions, who created it, its dates, its revocation and by whom) and the audit events about
// it, newest first, page by page ("Load more" follows the API's next_cursor). The token is read
// with GET .../api-tokens/ID; the server answers 404 for a token the caller may not see.
import { useState } from 'react';
import { api, ApiError, type ApiToken } from '../api';
import { Link } from '../components/Link';
import { LoadMore, usePages } from '../components/Pages';
import { Empty, ErrorState, Loading, Notice, useAsync } from '../components/States';
import { Time } from '../components/Time';
import { TokenStateBadge } from '../components/TokenStateBadge';
import { PERM } from '../permissions';
import { autoRevokeSoon, expiresSoon } from '../rules';
import { useSession } from '../session';
import { usePageTitle } from '../title';
import {
  actorKindLabel,
  actorName,
  canRevokeToken,
  canRotateToken,
  readableProjects,
  revocationReasonLabel,
} from '../tokens';
import { RevokeDialog } from './ApiTokens';
import { LastUsedFrom, RotateDialog, RotationNote } from './RotateTokenDialog';

const EVENTS_PAGE = 20;

export function TokenDetailsPage({ id }: { id: string }) {
  const { org, role, can } = useSession();
  const readProjects = readableProjects(can);
  const canRead = readProjects === undefined || readProjects.length > 0;
  const [token, reload] = useAsync(
    () =>
      canRead
        ? api.token(org.name, id).catch((e: unknown) => {
            if (e instanceof ApiError && e.status === 404) return null;
            throw e;
          })
        : Promise.resolve(null),
    `${org.name}:${id}:${canRead}`,
  );
  const [revoking, setRevoking] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [flash, setFlash] = useState('');
  const t = token.status === 'done' ? token.data : null;
  usePageTitle(t ? `API token ${t.name}` : 'API token');

  let body;
  if (!canRead) {
    body = (
      <Notice>
        Your role in {org.name} is <strong>{role}</strong>: it does not let you see or manage API tokens.
      </Notice>
    );
  } else if (token.status === 'loading') {
    body = <Loading what="the API token" />;
  } else if (token.status === 'error') {
    body = <ErrorState error={token.error} onRetry={reload} />;
  } else if (!t) {
    body = (
      <Empty title="API token not found">
        There is no API token <code>{id}</code> in {org.name} that you may see.
      </Empty>
    );
  }

  return (
    <section aria-labelledby="token-title">
      <p className="breadcrumb">
        <Link href="/api-tokens">← API tokens</Link>
      </p>
      <div className="page-head">
        <h1 id="token-title">
          API token {t && <span className="mono">{t.name}</span>}
          {t && <TokenStateBadge state={t.state} />}
        </h1>
        <div className="head-buttons">
          {t && t.state === 'active' && !t.rotated_to && canRotateToken(can, t) && (
            <button type="button" className="btn" onClick={() => setRotating(true)}>
              Rotate token
            </button>
          )}
          {t && t.state !== 'revoked' && canRevokeToken(can, t) && (
            <button type="button" className="btn btn-danger" onClick={() => setRevoking(true)}>
              Revoke token
            </button>
          )}
        </div>
      </div>
      {flash && (
        <p className="flash" role="status">
          {flash}
        </p>
      )}
      {body}
      {t && <TokenFacts token={t} />}
      {t &&
        (can.orgWide(PERM.auditRead) ? (
          <TokenEvents tokenId={t.id} key={`${t.id}:${t.state}`} />
        ) : (
          <Notice>Your role does not let you read the audit log, so this token's events are not shown.</Notice>
        ))}
      {rotating && t && (
        <RotateDialog
          token={t}
          onClose={(done) => {
            setRotating(false);
            if (done) {
              setFlash(`API token ${t.name} rotated.`);
              reload();
            }
          }}
        />
      )}
      {revoking && t && (
        <RevokeDialog
          token={t}
          onClose={(done) => {
            setRevoking(false);
            if (done) {
              setFlash(`API token ${t.name} revoked.`);
              reload();
            }
          }}
        />
      )}
    </section>
  );
}

function TokenFacts({ token: t }: { token: ApiToken }) {
  const { org, can } = useSession();
  const now = new Date();
  // Who revoked it is in the audit log (the token itself records only when and why).
  const readAudit = can.orgWide(PERM.auditRead);
  const [revokedBy] = useAsync(
    () =>
      t.revoked_at && readAudit
        ? api
            .auditEventsOf(org.name, t.id, null, 1, 'api_token.revoked')
            .then((p) => p.items.find((e) => e.target_id === t.id && e.action === 'api_token.revoked') ?? null)
        : Promise.resolve(null),
    `${org.name}:${t.id}:${t.revoked_at ?? ''}`,
  );
  return (
    <div className="card">
      <h2>Details</h2>
      <dl className="facts" data-testid="token-facts">
        <dt>Name</dt>
        <dd className="mono">{t.name}</dd>
        <dt>ID</dt>
        <dd className="mono">{t.id}</dd>
        <dt>State</dt>
        <dd>
          <TokenStateBadge state={t.state} />
        </dd>
        <dt>Description</dt>
        <dd>{t.description || <span className="muted">—</span>}</dd>
        <dt>Scope</dt>
        <dd data-testid="token-scope">
          {t.scope === 'project' ? (
            <>
              project <span className="mono">{t.project}</span>
            </>
          ) : (
            <>organization {org.name} (all projects)</>
          )}
        </dd>
        <dt>Permissions</dt>
        <dd>
          <ul className="plain-list" data-testid="token-permissions">
            {t.permissions.map((p) => (
              <li key={p} className="mono">
                {p}
              </li>
            ))}
          </ul>
        </dd>
        <dt>Created by</dt>
        <dd data-testid="token-created-by">
          {actorKindLabel(t.created_by)} <span className="mono">{actorName(t.created_by)}</span>
        </dd>
        <dt>Created</dt>
        <dd>
          <Time at={t.created_at} exact />
        </dd>
        <dt>Expires</dt>
        <dd data-testid="token-expires">
          {t.expires_at ? <Time at={t.expires_at} exact /> : <span className="muted">never</span>}
          {expiresSoon(t, now) && <span className="badge badge-warn">⚠ expires within 7 days</span>}
          <RotationNote token={t} />
        </dd>
        <dt>Last used</dt>
        <dd data-testid="token-last-used">
          {t.last_used_at ? <Time at={t.last_used_at} exact /> : <span className="muted">never</span>}
          <LastUsedFrom token={t} />
        </dd>
        {t.auto_revoke_at && (
          <>
            <dt>Auto revoke</dt>
            <dd>
              <Time at={t.auto_revoke_at} exact />
              {autoRevokeSoon(t.auto_revoke_at, now) && <span className="badge badge-warn">⚠ within 7 days</span>}
            </dd>
          </>
        )}
        {t.revoked_at && (
          <>
            <dt>Revoked</dt>
            <dd data-testid="token-revoked">
              <Time at={t.revoked_at} exact />
              {t.revocation_reason && <span className="badge reason">{revocationReasonLabel(t.revocation_reason)}</span>}
              {revokedBy.status === 'done' && revokedBy.data && (
                <>
                  {' '}
                  by {actorKindLabel({ kind: revokedBy.data.actor_kind })}{' '}
                  <span className="mono">{revokedBy.data.actor_name || revokedBy.data.actor_id}</span>
                </>
              )}
            </dd>
          </>
        )}
      </dl>
    </div>
  );
}

// The audit events about one token, newest first; "Load more" asks for the next page.
function TokenEvents({ tokenId }: { tokenId: string }) {
  const { org } = useSession();
  // Rows about other objects are dropped, should a server ignore the target_id filter.
  const { pages: state, reload: first, loadMore } = usePages(
    (cursor) =>
      api
        .auditEventsOf(org.name, tokenId, cursor, EVENTS_PAGE)
        .then((p) => ({ ...p, items: p.items.filter((e) => e.target_id === tokenId) })),
    `${org.name}:${tokenId}`,
  );

  return (
    <div className="card">
      <h2 id="token-events-title">Audit events</h2>
      {state.status === 'loading' && <Loading what="audit events" />}
      {state.status === 'error' && <ErrorState error={state.error} onRetry={first} />}
      {state.status === 'done' &&
        (state.rows.length === 0 ? (
          <Empty title="No audit events about this token" />
        ) : (
          <table className="table" aria-labelledby="token-events-title" data-testid="token-events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {state.rows.map((e) => (
                <tr key={e.id} data-action={e.action}>
                  <td data-label="When">
                    <Time at={e.created_at} />
                  </td>
                  <td data-label="Actor">
                    {e.actor_name || e.actor_id || e.actor_kind}{' '}
                    <span className="muted small">({actorKindLabel({ kind: e.actor_kind })})</span>
                  </td>
                  <td data-label="Action">
                    <span className="mono">{e.action}</span>
                  </td>
                  <td data-label="Details">{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <LoadMore pages={state} onMore={loadMore} />
    </div>
  );
}
