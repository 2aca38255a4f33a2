// Settings page (/settings?tab=api-tokens): the "Auto revoke" section shows whether inactive API
// tokens are revoked automatically and after how many days; those allowed to update the
// organization change it with the same range and message as the CLI and the server (1-365
// days, 0 turns it off). The "CI / keyless" tab (tab=ci) holds the trust policies (CiPolicies),
// the "Webhooks" tab (tab=webhooks) the event webhooks (Webhooks).
import { useId, useState, type FormEvent } from 'react';
import { api } from '../api';
import { Dialog } from '../components/Dialog';
import { Link } from '../components/Link';
import { messageOf } from '../components/States';
import { Time } from '../components/Time';
import { AUTO_REVOKE_MAX, AUTO_REVOKE_MIN, parseAutoRevokeDays } from '../rules';
import { PERM } from '../permissions';
import { useSession } from '../session';
import { CiPoliciesSection } from './CiPolicies';
import { WebhooksSection } from './Webhooks';

const TABS = [
  { id: 'api-tokens', label: 'API tokens' },
  { id: 'ci', label: 'CI / keyless' },
  { id: 'webhooks', label: 'Webhooks' },
  { id: 'general', label: 'General' },
];

export function SettingsPage({ tab }: { tab: string }) {
  const current = TABS.some((t) => t.id === tab) ? tab : 'api-tokens';
  return (
    <section aria-labelledby="settings-title">
      <div className="page-head">
        <h1 id="settings-title">Settings</h1>
      </div>
      <nav aria-label="Settings sections">
        <ul className="tabs">
          {TABS.map((t) => (
            <li key={t.id}>
              <Link
                className="tab"
                href={`/settings?tab=${t.id}`}
                aria-current={current === t.id ? 'page' : undefined}
              >
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {current === 'api-tokens' ? (
        <AutoRevokeSection />
      ) : current === 'ci' ? (
        <CiPoliciesSection />
      ) : current === 'webhooks' ? (
        <WebhooksSection />
      ) : (
        <GeneralSection />
      )}
    </section>
  );
}

function GeneralSection() {
  const { org, role } = useSession();
  return (
    <div className="card">
      <h2>Organization</h2>
      <dl className="facts">
        <dt>Name</dt>
        <dd className="mono">{org.name}</dd>
        <dt>ID</dt>
        <dd className="mono">{org.id}</dd>
        <dt>Created</dt>
        <dd>
          <Time at={org.created_at} exact />
        </dd>
        <dt>Your role</dt>
        <dd>{role}</dd>
      </dl>
    </div>
  );
}

function AutoRevokeSection() {
  const { org, can, reloadOrg } = useSession();
  const [editing, setEditing] = useState(false);
  const [flash, setFlash] = useState('');
  const days = org.api_token_max_days_inactive;
  const on = typeof days === 'number' && days > 0;
  return (
    <div className="card" aria-labelledby="auto-revoke-title">
      <h2 id="auto-revoke-title">Auto revoke</h2>
      <p>API tokens that are not used for a number of days can be revoked automatically.</p>
      <p className="status-line" data-testid="auto-revoke-status">
        <span className={`badge ${on ? 'badge-on' : 'badge-off'}`}>{on ? 'On' : 'Off'}</span>{' '}
        {on
          ? `Tokens unused for ${days} ${days === 1 ? 'day' : 'days'} are revoked.`
          : 'Inactive API tokens are never revoked automatically.'}
      </p>
      {flash && (
        <p className="flash" role="status">
          {flash}
        </p>
      )}
      {can.orgWide(PERM.organizationUpdate) ? (
        <button type="button" className="btn btn-primary" onClick={() => setEditing(true)}>
          Auto revoke
        </button>
      ) : (
        <p className="muted">Your role does not let you change this setting.</p>
      )}
      <p className="muted small">
        Tokens close to their auto-revoke date are marked on the <Link href="/api-tokens">API Tokens</Link> page.
      </p>
      {editing && (
        <AutoRevokeDialog
          current={on ? days : 0}
          onClose={(message) => {
            setEditing(false);
            if (message) {
              setFlash(message);
              reloadOrg();
            }
          }}
        />
      )}
    </div>
  );
}

function AutoRevokeDialog({ current, onClose }: { current: number; onClose: (message: string | null) => void }) {
  const { org } = useSession();
  const inputId = useId();
  const helpId = useId();
  const [text, setText] = useState(current > 0 ? String(current) : '90');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const parsed = parseAutoRevokeDays(text);

  const save = async (days: number) => {
    setBusy(true);
    setError('');
    try {
      await api.setAutoRevoke(org.name, days);
      onClose(days > 0 ? `Auto revoke is on: tokens unused for ${days} days are revoked.` : 'Auto revoke is off.');
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (parsed.problem !== undefined || parsed.days === undefined) {
      setError(parsed.problem ?? '');
      return;
    }
    void save(parsed.days);
  };

  return (
    <Dialog title="Auto revoke inactive API tokens" onClose={() => onClose(null)}>
      <form className="form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={inputId}>Revoke tokens unused for (days)</label>
          <input
            id={inputId}
            name="days"
            type="number"
            inputMode="numeric"
            min={AUTO_REVOKE_MIN}
            max={AUTO_REVOKE_MAX}
            value={text}
            autoFocus
            aria-invalid={parsed.problem !== undefined}
            aria-describedby={helpId}
            onChange={(e) => setText(e.target.value)}
          />
          <p id={helpId} className={parsed.problem ? 'field-error' : 'field-help'} aria-live="polite">
            {parsed.problem ?? `From ${AUTO_REVOKE_MIN} to ${AUTO_REVOKE_MAX} days; 0 turns auto-revocation off.`}
          </p>
        </div>
        {error && error !== parsed.problem && (
          <p className="inline-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          {current > 0 && (
            <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void save(0)}>
              Turn off
            </button>
          )}
          <span className="spacer" />
          <button type="button" className="btn" onClick={() => onClose(null)}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}
