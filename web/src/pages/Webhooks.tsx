// Settings → "Webhooks" (/settings?tab=webhooks): the organization's event webhooks. Those holding
// webhook:manage (the server says who) list them, create one (URL, description, the events it
// receives, from the server's catalogue; the signing secret is shown once), send a test event,
// delete one after a confirmation, and read each one's delivery log page by page. The server
// validates the URL and the events; its messages are shown as it words them.
import { useId, useState, type FormEvent } from 'react';
import { adminApi, type Webhook, type WebhookDelivery } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { LoadMore, usePages } from '../components/Pages';
import { Empty, ErrorState, Loading, messageOf, useAsync } from '../components/States';
import { Time } from '../components/Time';
import { PERM } from '../permissions';
import { useSession } from '../session';
import { ShowOnce } from './CreateTokenDialog';

export function WebhooksSection() {
  const { org, can } = useSession();
  const mayManage = can.orgWide(PERM.webhookManage);
  const [hooks, reload] = useAsync(
    () => (mayManage ? adminApi.webhooks(org.name) : Promise.resolve([] as Webhook[])),
    `webhooks:${org.name}:${mayManage}`,
  );
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const [flash, setFlash] = useState('');
  return (
    <div className="card" aria-labelledby="webhooks-title">
      <div className="card-head">
        <h2 id="webhooks-title">Webhooks</h2>
        {mayManage && (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => {
              setFlash('');
              setCreating(true);
            }}
          >
            New webhook
          </button>
        )}
      </div>
      <p>
        A webhook receives an HTTPS request, signed with its secret, when something happens in {org.name}: a token is
        created, revoked, leaked or about to expire, a member's role changes… Failed deliveries are retried for 24
        hours.
      </p>
      {!mayManage ? (
        <p className="muted">Your role does not let you see or manage webhooks.</p>
      ) : (
        <>
          {flash && (
            <p className="flash" role="status">
              {flash}
            </p>
          )}
          {hooks.status === 'loading' && <Loading what="webhooks" />}
          {hooks.status === 'error' && <ErrorState error={hooks.error} onRetry={reload} />}
          {hooks.status === 'done' &&
            (hooks.data.length === 0 ? (
              <Empty title="No webhooks">Create one to be told of token and member events as they happen.</Empty>
            ) : (
              <ul className="policy-list">
                {hooks.data.map((w) => (
                  <WebhookItem
                    key={w.id}
                    hook={w}
                    onFlash={setFlash}
                    onDelete={() => {
                      setFlash('');
                      setDeleting(w);
                    }}
                  />
                ))}
              </ul>
            ))}
        </>
      )}
      {creating && (
        <WebhookDialog
          onClose={(created) => {
            setCreating(false);
            if (created) {
              setFlash(`Webhook ${created.url} created.`);
              reload();
            }
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete this webhook?"
          action="Delete webhook"
          onCancel={() => setDeleting(null)}
          run={() => adminApi.deleteWebhook(org.name, deleting.id)}
          onDone={() => {
            setFlash(`Webhook ${deleting.url} deleted.`);
            setDeleting(null);
            reload();
          }}
        >
          <p>
            <span className="mono">{deleting.url}</span> will receive no more events; deliveries not yet made are
            dropped with its delivery log.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function WebhookItem({ hook, onDelete, onFlash }: { hook: Webhook; onDelete: () => void; onFlash: (m: string) => void }) {
  const { org } = useSession();
  const titleId = useId();
  const [open, setOpen] = useState(false);
  const [pinging, setPinging] = useState(false);
  const [logRound, setLogRound] = useState(0);
  const ping = async () => {
    setPinging(true);
    try {
      await adminApi.pingWebhook(org.name, hook.id);
      onFlash(`Test event sent to ${hook.url}: see its deliveries.`);
      setLogRound((r) => r + 1);
    } catch (e) {
      onFlash(messageOf(e));
    } finally {
      setPinging(false);
    }
  };
  return (
    <li className="policy" aria-labelledby={titleId} data-webhook={hook.url}>
      <div className="card-head">
        <h3 id={titleId} className="mono wrap-anywhere">
          {hook.url}
        </h3>
        <div className="head-buttons">
          <button type="button" className="btn btn-small" disabled={pinging} onClick={() => void ping()}>
            Send test event
          </button>
          <button type="button" className="btn btn-small" aria-label={`Delete webhook ${hook.url}`} onClick={onDelete}>
            Delete
          </button>
        </div>
      </div>
      <dl className="facts">
        {hook.description && (
          <>
            <dt>Description</dt>
            <dd>{hook.description}</dd>
          </>
        )}
        <dt>Events</dt>
        <dd>
          {hook.events.map((e) => (
            <code key={e} className="claim">
              {e}
            </code>
          ))}
        </dd>
        <dt>Created</dt>
        <dd>
          <Time at={hook.created_at} /> by <span className="mono">{hook.created_by.name || hook.created_by.id}</span>
        </dd>
      </dl>
      <details className="snippet" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary>Deliveries</summary>
        {open && <DeliveryLog hook={hook} key={logRound} />}
      </details>
    </li>
  );
}

const STATUS_LABEL: Record<WebhookDelivery['status'], string> = {
  pending: 'Pending',
  delivered: 'Delivered',
  failed: 'Failed',
};

// A webhook's deliveries, newest first; "Load more" follows the API's next_cursor.
function DeliveryLog({ hook }: { hook: Webhook }) {
  const { org } = useSession();
  const tableId = useId();
  const {
    pages: state,
    reload: first,
    loadMore,
  } = usePages((cursor) => adminApi.webhookDeliveries(org.name, hook.id, cursor), `${org.name}:${hook.id}`);

  if (state.status === 'loading') return <Loading what="deliveries" />;
  if (state.status === 'error') return <ErrorState error={state.error} onRetry={first} />;
  if (state.rows.length === 0) return <Empty title="No deliveries yet" />;
  return (
    <>
      <p id={tableId} className="visually-hidden">
        Deliveries to {hook.url}
      </p>
      <table className="table" aria-labelledby={tableId} data-testid="webhook-deliveries">
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last answer</th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {state.rows.map((d) => (
            <tr key={d.id} data-event={d.event} data-status={d.status}>
              <td data-label="Event">
                <span className="mono">{d.event}</span>
              </td>
              <td data-label="Status">
                <span className={`badge ${d.status === 'delivered' ? 'badge-on' : d.status === 'failed' ? 'badge-off' : ''}`}>
                  {STATUS_LABEL[d.status] ?? d.status}
                </span>
              </td>
              <td data-label="Attempts">{d.attempts}</td>
              <td data-label="Last answer">
                {d.response_status !== null ? `HTTP ${d.response_status}` : ''}
                {d.error ? <span className="muted small"> {d.error}</span> : null}
                {d.response_status === null && !d.error ? <span className="muted">—</span> : null}
              </td>
              <td data-label="When">
                <Time at={d.created_at} />
                {d.status === 'pending' && d.next_attempt_at && (
                  <span className="muted small">
                    {' '}
                    next try <Time at={d.next_attempt_at} />
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <LoadMore pages={state} onMore={loadMore} />
    </>
  );
}

// "New webhook": URL, description and the events to receive; then the signing secret, once.
function WebhookDialog({ onClose }: { onClose: (created: Webhook | null) => void }) {
  const { org } = useSession();
  const id = { url: useId(), description: useId(), events: useId(), urlHelp: useId() };
  const [catalogue, reloadCatalogue] = useAsync(() => adminApi.webhookEvents(), 'webhook-events');
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [created, setCreated] = useState<{ webhook: Webhook; secret: string } | null>(null);

  if (created) {
    return (
      <ShowOnce
        name={created.webhook.url}
        token={created.secret}
        title="Webhook created"
        label="Secret"
        advice="Your receiver needs it to check the X-Chainloop-Signature-256 header of each delivery."
        onClose={() => onClose(created.webhook)}
      />
    );
  }

  const toggle = (name: string) => {
    const next = new Set(events);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    setEvents(next);
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    if (url.trim() === '') {
      setError('Enter the URL that receives the events.');
      return;
    }
    if (events.size === 0) {
      setError('Choose at least one event.');
      return;
    }
    setBusy(true);
    try {
      const r = await adminApi.createWebhook(org.name, {
        url: url.trim(),
        events: [...events],
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      setCreated(r);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title="New webhook" onClose={() => onClose(null)} className="dialog-with-footer">
      <form className="form dialog-form" onSubmit={(e) => void submit(e)} noValidate>
        <div className="dialog-body">
          <div className="field">
            <label htmlFor={id.url}>Payload URL</label>
            <input
              id={id.url}
              name="url"
              type="url"
              inputMode="url"
              placeholder="https://hooks.example.com/chainloop"
              value={url}
              data-autofocus
              aria-describedby={id.urlHelp}
              onChange={(e) => setUrl(e.target.value)}
            />
            <p id={id.urlHelp} className="field-help">
              Where each event is POSTed as JSON. Private and loopback addresses are refused unless the operator allows
              them.
            </p>
          </div>
          <div className="field">
            <label htmlFor={id.description}>Description (optional)</label>
            <input
              id={id.description}
              name="description"
              value={description}
              onChange={(e) => setDescription(e.target.value)}
            />
          </div>
          <fieldset className="field">
            <legend>Events</legend>
            {catalogue.status === 'loading' && <Loading what="the events" />}
            {catalogue.status === 'error' && <ErrorState error={catalogue.error} onRetry={reloadCatalogue} />}
            {catalogue.status === 'done' && (
              <div className="checks checks-described" id={id.events}>
                {catalogue.data.map((ev) => (
                  <label key={ev.name} className="choice">
                    <input
                      type="checkbox"
                      name="events"
                      value={ev.name}
                      checked={events.has(ev.name)}
                      onChange={() => toggle(ev.name)}
                    />
                    <span>
                      <span className="mono">{ev.name}</span> <span className="muted small">{ev.description}</span>
                    </span>
                  </label>
                ))}
              </div>
            )}
          </fieldset>
          {error && (
            <p className="inline-error" role="alert">
              {error}
            </p>
          )}
        </div>
        <div className="dialog-actions dialog-footer">
          <button type="button" className="btn" onClick={() => onClose(null)}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create webhook'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
