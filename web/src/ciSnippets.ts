// The CI configuration a job needs to attest through a trust policy (docs/keyless.md, "The CI
// job"): GitLab declares an ID token whose `aud` is the policy's audience and the CLI reads it
// from $GITLAB_OIDC; on GitHub Actions the job grants `id-token: write` and the CLI requests an
// ID token for the control plane's URL itself. The CLI finds the control plane in
// $CHAINLOOP_CONTROL_PLANE_API; `--org` is required with a CI token.
import type { TrustPolicy } from './api';

export interface CiSnippet {
  file: string; // where it goes
  text: string;
  // Why this policy would not admit the job as written, or ''.
  caveat: string;
}

const DEFAULT_MAX_TOKEN_AGE = 3600;

// "2h", "1h 30m", "45m": GitLab's `timeout:` syntax.
export function gitlabDuration(seconds: number): string {
  const minutes = Math.max(1, Math.floor(seconds / 60));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m}m`;
  return m === 0 ? `${h}h` : `${h}h ${m}m`;
}

// YAML plain scalars cannot hold everything: quote what could be misread.
function yamlValue(v: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(v) && !/^[-:@]/.test(v) ? v : JSON.stringify(v);
}

// Shell words for the CLI's arguments (organization and project names are DNS labels already).
function shellWord(v: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

export function ciSnippet(policy: TrustPolicy, org: string, controlPlaneUrl: string): CiSnippet {
  const project = policy.project ?? 'PROJECT';
  const init = `chainloop attestation init --org ${shellWord(org)} --workflow build --project ${shellWord(project)}`;
  const push = `chainloop attestation push --org ${shellWord(org)} --statement statement.json`;
  if (policy.provider === 'github') {
    const text = [
      'jobs:',
      '  attest:',
      '    runs-on: ubuntu-latest',
      '    permissions:',
      '      id-token: write        # the CLI requests an ID token for the control plane',
      '      contents: read',
      '    env:',
      `      CHAINLOOP_CONTROL_PLANE_API: ${yamlValue(controlPlaneUrl)}`,
      '    steps:',
      '      - uses: actions/checkout@v4',
      `      - run: ${init}`,
      `      - run: ${push}`,
      '',
    ].join('\n');
    const caveat =
      policy.audience === controlPlaneUrl
        ? ''
        : `On GitHub Actions the CLI requests ID tokens for the control plane's URL (${controlPlaneUrl}), ` +
          `but this policy expects the audience "${policy.audience}": such jobs do not match it.`;
    return { file: '.github/workflows/attest.yml', text, caveat };
  }
  const age = policy.max_token_age_seconds ?? DEFAULT_MAX_TOKEN_AGE;
  const text = [
    'attest:',
    '  id_tokens:',
    '    GITLAB_OIDC:',
    `      aud: ${yamlValue(policy.audience)}`,
    '  variables:',
    `    CHAINLOOP_CONTROL_PLANE_API: ${yamlValue(controlPlaneUrl)}`,
    `  timeout: ${gitlabDuration(age)}    # at most the policy's max token age`,
    '  script:',
    `    - ${init}`,
    `    - ${push}`,
    '',
  ].join('\n');
  return { file: '.gitlab-ci.yml', text, caveat: '' };
}
