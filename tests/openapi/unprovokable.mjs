// The (operation, status) pairs of docs/openapi.yaml that no hermetic end-to-end test can
// provoke, each with the reason. validate_responses.mjs --require-coverage fails on a listed pair
// that was neither recorded nor matched here, and reports the matched ones as skipped (never as
// passed); tests/e2e/contract.test.mjs registers one skipped test per entry, so the list is
// visible in the suite's report too. Keep it short and specific: a pair that can be provoked
// belongs in a test, not here.
//
// `ops` is '*' (every operation that lists `status`) or a list of "METHOD /template" keys.

export const UNPROVOKABLE = [
  {
    status: '500',
    ops: '*',
    reason: 'internal error: an invariant broken inside the server (or the IdP rejecting the ' +
      "control plane's own client, idp_client_rejected); no request from outside provokes it",
  },
  {
    status: '503',
    ops: [
      'GET /readyz', 'GET /v1/auth/whoami', 'GET /v1/organizations',
      'GET /v1/organizations/{org}', 'GET /v1/organizations/{org}/api-tokens',
      'GET /v1/organizations/{org}/api-tokens/{id}',
      'GET /v1/organizations/{org}/federation-policies',
      'DELETE /v1/organizations/{org}/federation-policies/{id}',
      'GET /v1/organizations/{org}/members', 'DELETE /v1/organizations/{org}/members/{user_id}',
      'GET /v1/organizations/{org}/invitations',
      'DELETE /v1/organizations/{org}/invitations/{id}',
      'GET /v1/organizations/{org}/audit-events', 'GET /v1/organizations/{org}/projects',
      'GET /v1/organizations/{org}/workflows', 'GET /v1/organizations/{org}/workflow-runs',
      'GET /v1/organizations/{org}/workflow-runs/{id}',
      'GET /v1/organizations/{org}/webhooks', 'GET /v1/organizations/{org}/webhooks/{id}',
      'DELETE /v1/organizations/{org}/webhooks/{id}',
      'GET /v1/organizations/{org}/webhooks/{id}/deliveries', 'GET /v1/webhook-events',
    ],
    reason: 'routes without a request body answer 503 only when the database cannot serve; ' +
      'the suites share one PostgreSQL server (pg_restart.test.mjs stops a private cluster, ' +
      'on a few routes) and SQLite has no outage to provoke',
  },
  {
    status: '503',
    ops: ['GET /auth/callback', 'GET /auth/web/callback', 'POST /v1/auth/logout'],
    reason: 'the login callbacks answer 503 when the IdP fails between the start of a login and ' +
      'its callback, and logout only when the database is down: neither is hermetic and ' +
      'deterministic (logout has no body for the body budget to refuse)',
  },
  {
    status: '401',
    ops: ['GET /auth/callback', 'GET /auth/web/callback', 'POST /v1/auth/device/token'],
    reason: 'needs an ID token that the development IdP signs but that fails verification ' +
      '(wrong audience, stale) at the end of a login; the IdP cannot be made to issue one',
  },
  {
    status: '302',
    ops: ['GET /auth/web/callback'],
    reason: 'the end of a web UI login is followed by the scripted browser (devenv/driver.mjs), ' +
      'whose requests are not recorded; tests/web logs in through it',
  },
  {
    status: '503',
    ops: ['POST /v1/secret-scanning/generic'],
    reason: 'the generic secret scanning route fetches nothing: it answers 503 only when the ' +
      'database cannot serve, or from the body budget, which contract.test.mjs provokes only on ' +
      'the routes its stack serves (this one is served only with a secret file)',
  },
  {
    status: '409',
    ops: ['POST /v1/auth/device'],
    reason: 'device_flow_unsupported: the development IdP always offers the device flow',
  },
];

// The allow-list entry covering `status` of operation `key` ("METHOD /template"), or undefined.
export function unprovokable(key, status) {
  return UNPROVOKABLE.find((e) => e.status === String(status) &&
    (e.ops === '*' || e.ops.includes(key)));
}
