// Settings → "CI / keyless" (/settings?tab=ci): the organization's trust policies for keyless CI
// (which CI jobs may act here, with which permissions), each with the .gitlab-ci.yml or GitHub
// workflow a job needs and a copy button. Those holding trust_policy:manage create policies
// (TrustPolicyDialog) and delete them after a confirmation; the server validates and its
// messages are shown as it words them.
import { useId, useState } from 'react';
import { adminApi, type TrustPolicy } from '../api';
import { ciSnippet } from '../ciSnippets';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Empty, ErrorState, Loading, useAsync } from '../components/States';
import { Time } from '../components/Time';
import { PERM } from '../permissions';
import { useSession } from '../session';
import { TrustPolicyDialog } from './TrustPolicyDialog';

export function CiPoliciesSection() {
  const { org, can } = useSession();
  const mayManage = can.orgWide(PERM.trustPolicyManage);
  const [policies, reload] = useAsync(() => adminApi.trustPolicies(org.name), `policies:${org.name}`);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<TrustPolicy | null>(null);
  const [flash, setFlash] = useState('');
  return (
    <div className="card" aria-labelledby="ci-title">
      <div className="card-head">
        <h2 id="ci-title">CI / keyless</h2>
        {mayManage && (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => {
              setFlash('');
              setCreating(true);
            }}
          >
            New trust policy
          </button>
        )}
      </div>
      <p>
        A CI job (GitLab CI, GitHub Actions) can attest with its own short-lived ID token instead of a stored API
        token. A trust policy says which jobs are trusted: the issuer, the claims that must match (the repository or
        project, the branch…) and what they may do.
      </p>
      {!mayManage && <p className="muted">Your role does not let you create or delete trust policies.</p>}
      {flash && (
        <p className="flash" role="status">
          {flash}
        </p>
      )}
      {policies.status === 'loading' && <Loading what="trust policies" />}
      {policies.status === 'error' && <ErrorState error={policies.error} onRetry={reload} />}
      {policies.status === 'done' &&
        (policies.data.length === 0 ? (
          <Empty title="No trust policies">
            {mayManage ? 'Create one to let CI jobs attest without a stored secret.' : 'No CI job can act here yet.'}
          </Empty>
        ) : (
          <ul className="policy-list">
            {policies.data.map((p) => (
              <PolicyItem
                key={p.id}
                policy={p}
                mayManage={mayManage}
                onDelete={() => {
                  setFlash('');
                  setDeleting(p);
                }}
              />
            ))}
          </ul>
        ))}
      {creating && (
        <TrustPolicyDialog
          onClose={(created) => {
            setCreating(false);
            if (created) {
              setFlash(`Trust policy ${created.name} created.`);
              reload();
            }
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete the trust policy ${deleting.name}?`}
          action="Delete policy"
          onCancel={() => setDeleting(null)}
          run={() => adminApi.deleteTrustPolicy(org.name, deleting.id)}
          onDone={() => {
            setFlash(`Trust policy ${deleting.name} deleted.`);
            setDeleting(null);
            reload();
          }}
        >
          <p>
            CI jobs it admits can no longer act in {org.name}; tokens they already exchanged stop working at once.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function PolicyItem({ policy, mayManage, onDelete }: { policy: TrustPolicy; mayManage: boolean; onDelete: () => void }) {
  const { org } = useSession();
  const titleId = useId();
  const snippetId = useId();
  const snippet = ciSnippet(policy, org.name, window.location.origin);
  const [copied, setCopied] = useState<'' | 'yes' | 'no'>('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(snippet.text);
      setCopied('yes');
    } catch {
      // Clipboard refused (permissions, insecure context): select it for a manual copy.
      const pre = document.getElementById(snippetId);
      if (pre) window.getSelection()?.selectAllChildren(pre);
      setCopied('no');
    }
  };
  const claims = Object.entries(policy.bound_claims);
  return (
    <li className="policy" aria-labelledby={titleId} data-policy={policy.name}>
      <div className="card-head">
        <h3 id={titleId}>
          {policy.name} <span className="badge">{policy.provider}</span>
        </h3>
        {mayManage && (
          <button type="button" className="btn btn-small" aria-label={`Delete ${policy.name}`} onClick={onDelete}>
            Delete
          </button>
        )}
      </div>
      <dl className="facts">
        <dt>Issuer</dt>
        <dd className="mono">{policy.issuer}</dd>
        <dt>Audience</dt>
        <dd className="mono">{policy.audience}</dd>
        <dt>Bound claims</dt>
        <dd>
          {claims.map(([k, v]) => (
            <code key={k} className="claim">
              {k}={v}
            </code>
          ))}
        </dd>
        <dt>Project</dt>
        <dd>{policy.project ?? <span className="muted">every project</span>}</dd>
        <dt>Permissions</dt>
        <dd className="mono small">{policy.permissions.join(', ')}</dd>
        {policy.max_token_age_seconds !== undefined && (
          <>
            <dt>Max token age</dt>
            <dd>{Math.round(policy.max_token_age_seconds / 60)} minutes</dd>
          </>
        )}
        <dt>Created</dt>
        <dd>
          <Time at={policy.created_at} />
        </dd>
      </dl>
      <details className="snippet">
        <summary>CI configuration ({snippet.file})</summary>
        <pre id={snippetId} className="code-block" data-testid="ci-snippet" tabIndex={0}>
          {snippet.text}
        </pre>
        {snippet.caveat && <p className="warning-text small">{snippet.caveat}</p>}
        <div className="copy-row">
          <button type="button" className="btn btn-small" onClick={() => void copy()}>
            Copy {snippet.file}
          </button>
          <span className="field-help" aria-live="polite">
            {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Select the text and copy it (Ctrl+C).' : ''}
          </span>
        </div>
      </details>
    </li>
  );
}
