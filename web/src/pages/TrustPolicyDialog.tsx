// The "New trust policy" dialog: name, issuer, provider, audience, bound claims (key/value
// rows), project, permissions and max token age. The server is the judge of every rule (issuer
// on the instance's federation_issuers, a bound claim naming the repository or project, the
// permissions a CI job may hold): the dialog sends what was typed and shows the server's
// message as is. No API lists the instance's allowed issuers, so the issuer is typed, with the
// well-known public ones suggested.
import { useId, useState, type FormEvent } from 'react';
import { adminApi, api, type CreateTrustPolicyBody, type TrustPolicy } from '../api';
import { Dialog } from '../components/Dialog';
import { messageOf, useAsync } from '../components/States';
import { ATTESTATION_PERMISSIONS, EXTRA_PERMISSIONS } from '../rules';
import { useSession } from '../session';

const SUGGESTED_ISSUERS = ['https://gitlab.com', 'https://token.actions.githubusercontent.com'];

interface ClaimRow {
  key: number;
  name: string;
  pattern: string;
}

export function TrustPolicyDialog({ onClose }: { onClose: (created: TrustPolicy | null) => void }) {
  const { org } = useSession();
  const id = {
    name: useId(),
    issuer: useId(),
    issuers: useId(),
    provider: useId(),
    audience: useId(),
    project: useId(),
    age: useId(),
    claimsHelp: useId(),
  };
  const [projects] = useAsync(() => api.projects(org.name), `projects:${org.name}`);
  const [name, setName] = useState('');
  const [issuer, setIssuer] = useState('');
  const [provider, setProvider] = useState<'' | 'gitlab' | 'github'>('');
  const [audience, setAudience] = useState('');
  const [project, setProject] = useState('');
  const [ageMinutes, setAgeMinutes] = useState('');
  const [perms, setPerms] = useState<ReadonlySet<string>>(new Set(ATTESTATION_PERMISSIONS));
  const [rows, setRows] = useState<ClaimRow[]>([{ key: 0, name: '', pattern: '' }]);
  const [nextKey, setNextKey] = useState(1);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const setRow = (key: number, patch: Partial<ClaimRow>) =>
    setRows(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const togglePerm = (p: string) => {
    const next = new Set(perms);
    if (next.has(p)) next.delete(p);
    else next.add(p);
    setPerms(next);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    const body: CreateTrustPolicyBody = {
      name: name.trim(),
      issuer: issuer.trim(),
      bound_claims: Object.fromEntries(
        rows.filter((r) => r.name.trim() !== '' || r.pattern !== '').map((r) => [r.name.trim(), r.pattern]),
      ),
      permissions: [...perms],
    };
    if (provider) body.provider = provider;
    if (audience.trim()) body.audience = audience.trim();
    if (project) body.project = project;
    if (ageMinutes.trim()) {
      const minutes = Number(ageMinutes.trim());
      // Sent as typed (whole minutes): the server says what range it accepts.
      body.max_token_age_seconds = Number.isFinite(minutes) ? Math.round(minutes * 60) : -1;
    }
    setBusy(true);
    try {
      const r = await adminApi.createTrustPolicy(org.name, body);
      onClose(r.policy);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title="New trust policy" onClose={() => onClose(null)} className="dialog-with-footer">
      <form className="form dialog-form" onSubmit={submit} noValidate>
        <div className="dialog-body">
          <div className="field">
            <label htmlFor={id.name}>Name</label>
            <input
              id={id.name}
              name="name"
              value={name}
              data-autofocus
              autoComplete="off"
              onChange={(e) => setName(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={id.issuer}>Issuer</label>
            <input
              id={id.issuer}
              name="issuer"
              type="url"
              list={id.issuers}
              autoComplete="off"
              value={issuer}
              aria-describedby={`${id.issuer}-help`}
              onChange={(e) => setIssuer(e.target.value)}
            />
            <datalist id={id.issuers}>
              {SUGGESTED_ISSUERS.map((i) => (
                <option key={i} value={i} />
              ))}
            </datalist>
            <p id={`${id.issuer}-help`} className="field-help">
              The CI system's ID token issuer; it must be on this instance's list of trusted CI issuers
              (federation_issuers).
            </p>
          </div>
          <div className="form-row">
            <div className="field">
              <label htmlFor={id.provider}>Provider</label>
              <select
                id={id.provider}
                name="provider"
                value={provider}
                onChange={(e) => setProvider(e.target.value as '' | 'gitlab' | 'github')}
              >
                <option value="">From the issuer</option>
                <option value="gitlab">GitLab</option>
                <option value="github">GitHub</option>
              </select>
            </div>
            <div className="field grow">
              <label htmlFor={id.audience}>Audience</label>
              <input
                id={id.audience}
                name="audience"
                autoComplete="off"
                placeholder="this control plane's URL"
                value={audience}
                onChange={(e) => setAudience(e.target.value)}
              />
            </div>
          </div>
          <fieldset className="field">
            <legend>Bound claims</legend>
            <p id={id.claimsHelp} className="field-help">
              Claims the CI token must carry, exact or with * and ?. Bind the repository or project (GitLab project_id,
              GitHub repository_id…) and the branch.
            </p>
            {rows.map((r, i) => (
              <div className="claim-row" key={r.key}>
                <input
                  aria-label={`Claim ${i + 1} name`}
                  placeholder="project_id"
                  autoComplete="off"
                  value={r.name}
                  onChange={(e) => setRow(r.key, { name: e.target.value })}
                />
                <span aria-hidden="true">=</span>
                <input
                  aria-label={`Claim ${i + 1} value`}
                  placeholder="4242"
                  autoComplete="off"
                  value={r.pattern}
                  onChange={(e) => setRow(r.key, { pattern: e.target.value })}
                />
                <button
                  type="button"
                  className="btn btn-small"
                  aria-label={`Remove claim ${i + 1}`}
                  disabled={rows.length === 1}
                  onClick={() => setRows(rows.filter((x) => x.key !== r.key))}
                >
                  ×
                </button>
              </div>
            ))}
            <button
              type="button"
              className="btn btn-small"
              onClick={() => {
                setRows([...rows, { key: nextKey, name: '', pattern: '' }]);
                setNextKey(nextKey + 1);
              }}
            >
              Add claim
            </button>
          </fieldset>
          <div className="form-row">
            <div className="field grow">
              <label htmlFor={id.project}>Project</label>
              <select id={id.project} name="project" value={project} onChange={(e) => setProject(e.target.value)}>
                <option value="">Every project</option>
                {projects.status === 'done' &&
                  projects.data.map((p) => (
                    <option key={p.id} value={p.name}>
                      {p.name}
                    </option>
                  ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={id.age}>Max token age (minutes)</label>
              <input
                id={id.age}
                name="max-token-age"
                inputMode="numeric"
                placeholder="60"
                value={ageMinutes}
                onChange={(e) => setAgeMinutes(e.target.value)}
              />
            </div>
          </div>
          <fieldset className="field">
            <legend>Permissions</legend>
            <div className="checks">
              {[...ATTESTATION_PERMISSIONS, ...EXTRA_PERMISSIONS].map((p) => (
                <label key={p} className="choice">
                  <input type="checkbox" checked={perms.has(p)} onChange={() => togglePerm(p)} />
                  <span className="mono">{p}</span>
                </label>
              ))}
            </div>
          </fieldset>
        </div>
        {error && (
          <p className="inline-error" role="alert" data-testid="policy-error">
            {error}
          </p>
        )}
        <div className="dialog-actions dialog-footer">
          <button type="button" className="btn" onClick={() => onClose(null)}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create policy'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
