// Rotation and last-use details on the token details page: where a token was last used from
// (address and User-Agent, rendered as text: React escapes them), when a rotated token stops
// working, and the "Rotate token" dialog, which replaces a token by a new one shown once (the
// create dialog's view), leaving the old one working for a chosen grace period.
import { useId, useState } from 'react';
import { api, type ApiToken } from '../api';
import { Dialog } from '../components/Dialog';
import { messageOf } from '../components/States';
import { Time } from '../components/Time';
import { useSession } from '../session';
import { ShowOnce } from './CreateTokenDialog';

export function LastUsedFrom({ token }: { token: ApiToken }) {
  const from = token.last_used_from;
  if (!from) return null;
  return (
    <span className="muted last-used-from" data-testid="last-used-from">
      {' '}
      from <span className="mono">{from.address || '?'}</span>
      {from.user_agent && (
        <>
          {' '}
          (<span className="mono">{from.user_agent}</span>)
        </>
      )}
    </span>
  );
}

// A rotated token in its grace period: when it stops working.
export function RotationNote({ token }: { token: ApiToken }) {
  if (!token.rotated_to || !token.rotation_deadline || token.revoked_at) return null;
  return (
    <span className="badge reason" title={`Replaced by ${token.rotated_to}`}>
      rotated, works until <Time at={token.rotation_deadline} />
    </span>
  );
}

const GRACE_CHOICES: { label: string; seconds: number }[] = [
  { label: 'None: the old token stops working at once', seconds: 0 },
  { label: '5 minutes', seconds: 300 },
  { label: '1 hour', seconds: 3600 },
  { label: '24 hours', seconds: 86400 },
];

// onClose(true) after a rotation (the new token has been shown), onClose(false) when cancelled.
export function RotateDialog({ token, onClose }: { token: ApiToken; onClose: (done: boolean) => void }) {
  const { org } = useSession();
  const graceId = useId();
  const [grace, setGrace] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [rotated, setRotated] = useState<string | null>(null);
  if (rotated !== null) {
    return <ShowOnce name={token.name} token={rotated} verb="rotated" onClose={() => onClose(true)} />;
  }
  const rotate = async () => {
    setBusy(true);
    setError('');
    try {
      const r = await api.rotateToken(org.name, token.id, grace);
      setRotated(r.token);
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Rotate API token" onClose={() => onClose(false)}>
      <p>
        Replace <strong className="mono">{token.name}</strong> by a new token with the same name, scope, description and
        permissions. The new token is shown once.
      </p>
      <div className="field">
        <label htmlFor={graceId}>The old token keeps working for</label>
        <select id={graceId} value={grace} onChange={(e) => setGrace(Number(e.target.value))}>
          {GRACE_CHOICES.map((c) => (
            <option key={c.seconds} value={c.seconds}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={() => onClose(false)} autoFocus>
          Cancel
        </button>
        <button type="button" className="btn btn-primary" onClick={rotate} disabled={busy}>
          {busy ? 'Rotating…' : 'Rotate token'}
        </button>
      </div>
    </Dialog>
  );
}
