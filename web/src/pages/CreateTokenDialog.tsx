// "Create token" dialog: name (validated as typed, focused first), description, expiry (30 days
// unless changed; "Never" warns of the risk), scope, permissions. Its body scrolls and its
// buttons stay in view, on a phone too.
// Scopes and permissions offered are those the server says the caller holds: a caller who may
// create tokens only in some projects picks one of them (no organization scope), and only
// permissions held in the chosen scope are offered (the server refuses granting others).
// On success the token value is shown once, with a copy button; closing the dialog drops it
// from memory, and nothing can show it again.
import { useId, useState, type FormEvent } from 'react';
import { api, type CreateTokenBody } from '../api';
import { Dialog } from '../components/Dialog';
import { messageOf, useAsync } from '../components/States';
import {
  ATTESTATION_PERMISSIONS,
  customExpirySeconds,
  DAY_SECONDS,
  DEFAULT_EXPIRY,
  DNS_LABEL_MAX,
  EXTRA_PERMISSIONS,
  tokenNameProblem,
  type ExpiryChoice,
} from '../rules';
import { PERM } from '../permissions';
import { useSession } from '../session';

// onClose(name) with the created token's name, or onClose(null) when nothing was created.
export function CreateTokenDialog({ onClose }: { onClose: (created: string | null) => void }) {
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  if (created) {
    return <ShowOnce name={created.name} token={created.token} onClose={() => onClose(created.name)} />;
  }
  return (
    <Dialog title="Create API token" onClose={() => onClose(null)} className="dialog-with-footer">
      <CreateForm onCreated={setCreated} onCancel={() => onClose(null)} />
    </Dialog>
  );
}

function CreateForm({
  onCreated,
  onCancel,
}: {
  onCreated: (c: { name: string; token: string }) => void;
  onCancel: () => void;
}) {
  const { org, can } = useSession();
  const orgScopeAllowed = can.orgWide(PERM.apiTokenCreate);
  const ids = {
    name: useId(),
    nameHelp: useId(),
    desc: useId(),
    expiry: useId(),
    expiryWarning: useId(),
    date: useId(),
    project: useId(),
  };
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const [description, setDescription] = useState('');
  const [expiry, setExpiry] = useState<ExpiryChoice>(DEFAULT_EXPIRY);
  const [date, setDate] = useState('');
  const [scope, setScope] = useState<'organization' | 'project'>(orgScopeAllowed ? 'organization' : 'project');
  const [project, setProject] = useState('');
  const [perms, setPerms] = useState<Set<string>>(() => new Set(ATTESTATION_PERMISSIONS));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  // Any project of the organization when creation is granted org-wide, else those where it is.
  const [projects] = useAsync(
    () =>
      scope !== 'project'
        ? Promise.resolve([])
        : orgScopeAllowed
          ? api.projects(org.name).then((list) => list.map((p) => p.name))
          : Promise.resolve(can.projectsWith(PERM.apiTokenCreate)),
    `${org.name}:${scope}:${orgScopeAllowed}`,
  );

  const nameProblem = tokenNameProblem(name);
  const showNameProblem = (touched || name.length > 0) && nameProblem !== '';
  const custom = expiry === 'custom' ? customExpirySeconds(date, new Date()) : {};
  const projectList = projects.status === 'done' ? projects.data : [];
  const chosenProject = project || projectList[0] || '';
  const held = can.heldIn(scope === 'project' ? chosenProject : undefined);
  const offered = [...ATTESTATION_PERMISSIONS, ...EXTRA_PERMISSIONS].filter((p) => held.has(p));
  const chosen = offered.filter((p) => perms.has(p));

  const toggle = (p: string) =>
    setPerms((prev) => {
      const next = new Set(prev);
      if (next.has(p)) next.delete(p);
      else next.add(p);
      return next;
    });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setError('');
    if (nameProblem) {
      document.getElementById(ids.name)?.focus();
      return;
    }
    if (expiry === 'custom' && custom.problem) {
      setError(custom.problem);
      return;
    }
    if (scope === 'project' && !chosenProject) {
      setError('Choose a project, or use organization scope.');
      return;
    }
    if (chosen.length === 0) {
      setError('Choose at least one permission.');
      return;
    }
    const body: CreateTokenBody = { name, permissions: chosen };
    if (description.trim()) body.description = description.trim();
    if (expiry === 'custom') body.expires_in_seconds = custom.seconds;
    else if (expiry !== 'none') body.expires_in_seconds = Number(expiry) * DAY_SECONDS;
    if (scope === 'project') body.project = chosenProject;
    setBusy(true);
    try {
      const r = await api.createToken(org.name, body);
      onCreated({ name: r.api_token.name, token: r.token });
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };

  const today = new Date();
  const minDate = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;

  return (
    <form className="form dialog-form" onSubmit={submit} noValidate>
      <div className="dialog-body">
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            name="name"
            value={name}
            data-autofocus
            autoComplete="off"
            spellCheck={false}
            maxLength={DNS_LABEL_MAX + 20}
            aria-invalid={showNameProblem}
            aria-describedby={ids.nameHelp}
            onChange={(e) => setName(e.target.value)}
            onBlur={() => setTouched(true)}
          />
          <p id={ids.nameHelp} className={showNameProblem ? 'field-error' : 'field-help'} aria-live="polite">
            {showNameProblem ? nameProblem : `Lowercase letters, digits and '-', at most ${DNS_LABEL_MAX} characters.`}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.desc}>
            Description <span className="muted">(optional)</span>
          </label>
          <input id={ids.desc} name="description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={ids.expiry}>Expires</label>
          <select
            id={ids.expiry}
            name="expiry"
            value={expiry}
            aria-describedby={expiry === 'none' ? ids.expiryWarning : undefined}
            onChange={(e) => setExpiry(e.target.value as ExpiryChoice)}
          >
            <option value="7">In 7 days</option>
            <option value="30">In 30 days</option>
            <option value="90">In 90 days</option>
            <option value="custom">On a date…</option>
            <option value="none">Never</option>
          </select>
          {expiry === 'none' && (
            <p id={ids.expiryWarning} className="warning-box" data-testid="never-expires-warning">
              ⚠ A token that never expires is a risk: if it leaks, it works until someone notices and revokes it.
              Prefer an expiry and rotate the token.
            </p>
          )}
        </div>
        {expiry === 'custom' && (
          <div className="field">
            <label htmlFor={ids.date}>Expiry date</label>
            <input
              id={ids.date}
              name="expiry-date"
              type="date"
              min={minDate}
              value={date}
              onChange={(e) => setDate(e.target.value)}
              aria-invalid={date !== '' && !!custom.problem}
            />
            <p className={date !== '' && custom.problem ? 'field-error' : 'field-help'}>
              {date !== '' && custom.problem ? custom.problem : 'The token stops working at the end of this day.'}
            </p>
          </div>
        )}
        <fieldset className="field">
          <legend>Scope</legend>
          {orgScopeAllowed ? (
            <>
              <label className="choice">
                <input
                  type="radio"
                  name="scope"
                  value="organization"
                  checked={scope === 'organization'}
                  onChange={() => setScope('organization')}
                />
                Organization <span className="muted">(all projects of {org.name})</span>
              </label>
              <label className="choice">
                <input type="radio" name="scope" value="project" checked={scope === 'project'} onChange={() => setScope('project')} />
                One project
              </label>
            </>
          ) : (
            <p className="field-help">You can create tokens only for the projects listed below, not for the whole organization.</p>
          )}
          {scope === 'project' && (
            <div className="field nested">
              <label htmlFor={ids.project}>Project</label>
              {projects.status === 'loading' && <p className="field-help">Loading projects…</p>}
              {projects.status === 'error' && (
                <p className="field-error" role="alert">
                  {messageOf(projects.error)}
                </p>
              )}
              {projects.status === 'done' &&
                (projectList.length === 0 ? (
                  <p className="field-help">This organization has no projects yet.</p>
                ) : (
                  <select id={ids.project} name="project" value={chosenProject} onChange={(e) => setProject(e.target.value)}>
                    {projectList.map((p) => (
                      <option key={p} value={p}>
                        {p}
                      </option>
                    ))}
                  </select>
                ))}
            </div>
          )}
        </fieldset>
        <fieldset className="field">
          <legend>Permissions</legend>
          <p className="field-help">
            The attestation set is selected by default. Only permissions you hold in this scope are offered.
          </p>
          <div className="checks">
            {offered.map((p) => (
              <label key={p} className="choice">
                <input type="checkbox" name="permission" value={p} checked={perms.has(p)} onChange={() => toggle(p)} />
                <span className="mono">{p}</span>
              </label>
            ))}
          </div>
        </fieldset>
        {error && (
          <p className="inline-error" role="alert">
            {error}
          </p>
        )}
      </div>
      <div className="dialog-actions dialog-footer">
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create token'}
        </button>
      </div>
    </form>
  );
}

// The new token's value, once (also after a rotation: `verb` "rotated"). `title`, `label` and
// `advice` word it for another secret shown once (a webhook's signing secret).
export function ShowOnce({
  name,
  token,
  onClose,
  verb = 'created',
  title,
  label = 'Token',
  advice = "Store it in your CI's secret store.",
}: {
  name: string;
  token: string;
  onClose: () => void;
  verb?: string;
  title?: string;
  label?: string;
  advice?: string;
}) {
  const [copied, setCopied] = useState<'' | 'yes' | 'no'>('');
  const fieldId = useId();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token);
      setCopied('yes');
    } catch {
      // Clipboard API refused (permissions, insecure context): select it for a manual copy.
      const field = document.getElementById(fieldId) as HTMLInputElement | null;
      field?.select();
      setCopied('no');
    }
  };
  return (
    <Dialog title={title ?? `API token ${name} ${verb}`} onClose={onClose}>
      <div className="warning-box" role="alert">
        <strong>Copy this {label.toLowerCase()} now.</strong> It is shown only once: after you close this dialog it
        cannot be seen again. {advice}
      </div>
      <div className="field">
        <label htmlFor={fieldId}>{label}</label>
        <div className="copy-row">
          <input
            id={fieldId}
            className="mono"
            readOnly
            value={token}
            data-testid="new-token"
            onFocus={(e) => e.target.select()}
          />
          <button type="button" className="btn" onClick={copy}>
            Copy
          </button>
        </div>
        <p className="field-help" aria-live="polite">
          {copied === 'yes'
            ? 'Copied to the clipboard.'
            : copied === 'no'
              ? `Select the ${label.toLowerCase()} and copy it by hand (Ctrl+C).`
              : ''}
        </p>
      </div>
      <div className="dialog-actions">
        <button type="button" className="btn btn-primary" onClick={onClose}>
          I have copied it, close
        </button>
      </div>
    </Dialog>
  );
}
