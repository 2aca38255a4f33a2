// Audit log page (/audit): the organization's audit events, newest first, a page at a time
// ("Load more" follows the API's next_cursor), filtered by action, actor and a date range (the
// server applies the filters: since <= created_at < until). Events about an API token link to
// that token's details.
import { useId, useState, type FormEvent } from 'react';
import { adminApi, type AuditEvent, type AuditFilters } from '../api';
import { Link } from '../components/Link';
import { LoadMore, usePages } from '../components/Pages';
import { Empty, ErrorState, Loading, Notice } from '../components/States';
import { Time } from '../components/Time';
import { PERM } from '../permissions';
import { AUDIT_ACTIONS } from '../rules';
import { useSession } from '../session';

// The API Tokens page's details route for one token.
const tokenHref = (id: string) => `/api-tokens/${encodeURIComponent(id)}`;

// The start of a local calendar day ("2026-12-07") as RFC 3339, `plusDays` later.
function dayStart(date: string, plusDays = 0): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays).toISOString();
}

interface FilterForm {
  action: string;
  actor: string;
  from: string; // yyyy-mm-dd, local
  to: string; // yyyy-mm-dd, local, inclusive
}

const NO_FILTERS: FilterForm = { action: '', actor: '', from: '', to: '' };

function toQuery(f: FilterForm): AuditFilters {
  return {
    action: f.action || undefined,
    actor: f.actor.trim() || undefined,
    since: f.from ? dayStart(f.from) : undefined,
    until: f.to ? dayStart(f.to, 1) : undefined,
  };
}

export function AuditPage() {
  const { org, role, can } = useSession();
  const readAudit = can.orgWide(PERM.auditRead);
  const [applied, setApplied] = useState<FilterForm>(NO_FILTERS);
  const {
    pages: listing,
    reload: load,
    loadMore,
  } = usePages(
    (cursor) => adminApi.auditPage(org.name, toQuery(applied), cursor ?? undefined),
    `${org.name}:${JSON.stringify(applied)}`,
    readAudit,
  );

  const filtered = Object.values(toQuery(applied)).some((v) => v !== undefined);
  return (
    <section aria-labelledby="audit-title">
      <div className="page-head">
        <h1 id="audit-title">Audit log</h1>
        {readAudit && (
          <button type="button" className="btn" onClick={load}>
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
          <Filters applied={applied} onApply={setApplied} />
          {listing.status === 'loading' && <Loading what="audit events" />}
          {listing.status === 'error' && <ErrorState error={listing.error} onRetry={load} />}
          {listing.status === 'done' &&
            (listing.rows.length === 0 ? (
              <Empty title={filtered ? 'No audit events match these filters' : 'No audit events yet'} />
            ) : (
              <>
                <EventTable events={listing.rows} orgName={org.name} />
                <p className="muted small" role="status" data-testid="audit-count">
                  {listing.rows.length} {listing.rows.length === 1 ? 'event' : 'events'}
                  {listing.next ? ' shown; older ones follow.' : ', all shown.'}
                </p>
                <LoadMore pages={listing} onMore={loadMore} />
              </>
            ))}
        </>
      )}
    </section>
  );
}

function Filters({ applied, onApply }: { applied: FilterForm; onApply: (f: FilterForm) => void }) {
  const ids = { action: useId(), actor: useId(), from: useId(), to: useId() };
  const [form, setForm] = useState<FilterForm>(applied);
  const set = (k: keyof FilterForm) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onApply({ ...form });
  };
  return (
    <form className="card form filters" onSubmit={submit} aria-label="Filter audit events">
      <div className="form-row">
        <div className="field">
          <label htmlFor={ids.action}>Action</label>
          <select id={ids.action} name="action" value={form.action} onChange={set('action')}>
            <option value="">All actions</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div className="field grow">
          <label htmlFor={ids.actor}>Actor</label>
          <input
            id={ids.actor}
            name="actor"
            type="text"
            placeholder="email, token name or id"
            value={form.actor}
            onChange={set('actor')}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.from}>From</label>
          <input id={ids.from} name="from" type="date" value={form.from} onChange={set('from')} />
        </div>
        <div className="field">
          <label htmlFor={ids.to}>To</label>
          <input id={ids.to} name="to" type="date" value={form.to} onChange={set('to')} />
        </div>
        <div className="field field-button filter-buttons">
          <button type="submit" className="btn btn-primary">
            Apply filters
          </button>
          <button
            type="button"
            className="btn"
            onClick={() => {
              setForm(NO_FILTERS);
              onApply(NO_FILTERS);
            }}
          >
            Clear
          </button>
        </div>
      </div>
    </form>
  );
}

function EventTable({ events, orgName }: { events: AuditEvent[]; orgName: string }) {
  return (
    <table className="table">
      <caption className="visually-hidden">Audit events of {orgName}, newest first</caption>
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
        {events.map((e) => (
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
              {e.target_kind === 'api_token' && e.target_id ? (
                <Link href={tokenHref(e.target_id)} title={`API token ${e.target_id}`}>
                  api_token <span className="mono small">{short(e.target_id)}</span>
                </Link>
              ) : (
                <>
                  {e.target_kind}
                  {e.target_id && (
                    <span className="muted small mono" title={e.target_id}>
                      {' '}
                      {short(e.target_id)}
                    </span>
                  )}
                </>
              )}
            </td>
            <td data-label="Details">{e.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const short = (id: string) => (id.length > 12 ? `${id.slice(0, 8)}…` : id);
