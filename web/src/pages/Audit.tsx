// Audit log page (/audit): the organization's audit events, newest first.
import { api } from '../api';
import { Empty, ErrorState, Loading, Notice, useAsync } from '../components/States';
import { PERM } from '../permissions';
import { useSession } from '../session';
import { Time } from '../components/Time';

export function AuditPage() {
  const { org, role, can } = useSession();
  const readAudit = can.orgWide(PERM.auditRead);
  const [events, reload] = useAsync(
    () =>
      readAudit
        ? api.auditEvents(org.name).then((list) =>
            [...list].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0)),
          )
        : Promise.resolve([]),
    `audit:${org.name}:${readAudit}`,
  );
  return (
    <section aria-labelledby="audit-title">
      <div className="page-head">
        <h1 id="audit-title">Audit log</h1>
        {readAudit && (
          <button type="button" className="btn" onClick={reload}>
            Refresh
          </button>
        )}
      </div>
      {!readAudit ? (
        <Notice>
          Your role in {org.name} is <strong>{role}</strong>: it does not let you read the audit log.
        </Notice>
      ) : (
        <>
          {events.status === 'loading' && <Loading what="audit events" />}
          {events.status === 'error' && <ErrorState error={events.error} onRetry={reload} />}
          {events.status === 'done' &&
            (events.data.length === 0 ? (
              <Empty title="No audit events yet" />
            ) : (
              <table className="table">
                <caption className="visually-hidden">Audit events of {org.name}, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Actor</th>
                    <th scope="col">Action</th>
                    <th scope="col">Target</th>
                    <th scope="col">Details</th>
                  </tr>
                </thead>
                <tbody>
                  {events.data.map((e) => (
                    <tr key={e.id}>
                      <td data-label="When">
                        <Time at={e.created_at} />
                      </td>
                      <td data-label="Actor">
                        {e.actor_name || e.actor_kind} <span className="muted small">({e.actor_kind})</span>
                      </td>
                      <td data-label="Action">
                        <span className="mono">{e.action}</span>
                      </td>
                      <td data-label="Target">
                        {e.target_kind}
                        {e.target_id && (
                          <span className="muted small mono" title={e.target_id}>
                            {' '}
                            {e.target_id.length > 12 ? `${e.target_id.slice(0, 8)}…` : e.target_id}
                          </span>
                        )}
                      </td>
                      <td data-label="Details">{e.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ))}
        </>
      )}
    </section>
  );
}
