// End to end: logging in (browser and device flow), logging out, session expiry, and failed
// logins (Cancel at the IdP, IdP error callbacks, the server's log of failures), with the real
// CLI, control plane and development IdP.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import {
  api, cliBin, driverScript, missingPrerequisite, recordedFetch, show, sleep, startStack,
} from './harness.mjs';

const skip = missingPrerequisite();

describe('auth', () => {
  let stack;
  before(async () => {
    if (skip) return;
    stack = await startStack();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('browser login, then auth status shows the email', { skip }, async () => {
    const alice = stack.newUser('alice');
    const status0 = await alice.run(['auth', 'status']);
    assert.notEqual(status0.code, 0, `status before login must fail\n${show(status0)}`);

    await alice.login();
    const status = await alice.run(['auth', 'status']);
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout + status.stderr, /alice@example\.com/);
    assert.match(alice.sessionToken() ?? '', /^clses_/, 'config file holds a session token');

    const who = await api(stack, 'GET', '/v1/auth/whoami', { token: alice.sessionToken() });
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.principal.kind, 'user');
    assert.equal(who.body.principal.email, 'alice@example.com');
    assert.ok(who.body.session?.expires_at, 'whoami reports the session expiry');
  });

  test('device-flow login (--skip-browser) works', { skip }, async () => {
    const dave = stack.newUser('dave');
    const r = await dave.deviceLogin();
    assert.match(r.match[2], /\S/, 'a user code is shown');
    const status = await dave.run(['auth', 'status']);
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout + status.stderr, /dave@example\.com/);
  });

  test('logout revokes the session; the CLI asks to log in again', { skip }, async () => {
    const lou = stack.newUser('lou');
    await lou.login();
    const token = lou.sessionToken();
    assert.ok(token, 'token stored after login');
    assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token })).status, 200);

    const out = await lou.run(['auth', 'logout']);
    assert.equal(out.code, 0, show(out));

    const who = await api(stack, 'GET', '/v1/auth/whoami', { token });
    assert.equal(who.status, 401, JSON.stringify(who.body));
    assert.equal(who.body?.error?.code, 'session_revoked');
    assert.match(who.headers.get('www-authenticate') ?? '', /^Bearer/);

    const status = await lou.run(['auth', 'status']);
    assert.notEqual(status.code, 0, show(status));
    assert.match(status.stderr, /chainloop auth login/, show(status));
  });

  test('an unknown token is refused with 401', { skip }, async () => {
    const who = await api(stack, 'GET', '/v1/auth/whoami', {
      token: 'clses_thisisnotarealtokenatallthisisnotarealtoken0000000',
    });
    assert.equal(who.status, 401);
    assert.match(who.body?.error?.code ?? '', /^(invalid_token|malformed_token)$/);
  });
});

describe('session expiry', () => {
  let stack;
  before(async () => {
    if (skip) return;
    stack = await startStack({ sessionLifetime: '3s' });
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a session past its lifetime is refused and the CLI says to log in', { skip }, async () => {
    const eve = stack.newUser('eve');
    await eve.login();
    const fresh = await eve.run(['auth', 'status']);
    assert.equal(fresh.code, 0, show(fresh));

    await sleep(4000);
    const who = await api(stack, 'GET', '/v1/auth/whoami', { token: eve.sessionToken() });
    assert.equal(who.status, 401, JSON.stringify(who.body));
    assert.equal(who.body?.error?.code, 'session_expired');

    const status = await eve.run(['auth', 'status']);
    assert.notEqual(status.code, 0, show(status));
    assert.match(status.stderr, /chainloop auth login/, show(status));
  });
});

// ---------------------------------------------------------------------------------------------
// Login failures: cancelling at the IdP, IdP error callbacks, and what the server logs.

// Spawns `chainloop auth login` for `user` with a long timeout and resolves, once it printed the
// login URL, with { url, exited } (exited resolves with {code, signal, stderr, ms} at its exit).
async function startCliLogin(user, timeoutSeconds) {
  const child = spawn(cliBin, user.argv(['auth', 'login']), {
    env: { ...user.env(), CHAINLOOP_LOGIN_TIMEOUT_SECONDS: String(timeoutSeconds) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = Date.now();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stdout.resume();
  const exited = new Promise((res) => child.once('close', (code, signal) =>
    res({ code, signal, stderr, ms: Date.now() - started })));
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no login URL printed:\n${stderr}`)), 20_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const m = /Open this URL in your browser to log in: (\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    child.once('close', () => rej(new Error(`CLI exited before printing the URL:\n${stderr}`)));
  });
  return { child, url, exited };
}

// GET without following redirects.
function get(url, headers = {}) {
  return recordedFetch(url, { redirect: 'manual', headers });
}

// The IdP's state for a login started at `loginUrl` (the control plane's /auth/login or
// /auth/web/login): the state parameter of the authorization URL it redirects to.
async function serverState(loginUrl, headers = {}) {
  const res = await get(loginUrl, headers);
  assert.equal(res.status, 302, await res.text());
  const location = new URL(res.headers.get('location'));
  const state = location.searchParams.get('state');
  assert.ok(state, `state in ${location.pathname}`);
  return { state, res };
}

// The server's log lines (JSON objects) with `msg`.
function logLines(stack, msg) {
  return stack.server.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return {};
    }
  }).filter((o) => o.msg === msg);
}

describe('login failures', () => {
  let stack;
  before(async () => {
    if (skip) return;
    stack = await startStack({ extraArgs: ['--auth-failure-limit', '0'] });
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('Cancel at the IdP stops the waiting CLI at once with a clear message', { skip },
    async () => {
      const { completeBrowserLogin } = await import(pathToFileURL(driverScript).href);
      const carl = stack.newUser('carl');
      // A long CLI timeout: without the fix, the CLI would still be waiting when the test ends.
      const cli = await startCliLogin(carl, 300);
      try {
        const r = await completeBrowserLogin(cli.url, { login: carl.account, cancel: true });
        // The control plane sent the browser back to the CLI's loopback listener with a known
        // code and the CLI's own state, never the IdP's free text.
        assert.ok(r.reachedFinal, `browser stopped at ${r.status}: ${r.body.slice(0, 500)}`);
        const final = new URL(r.finalUrl);
        assert.equal(final.hostname, '127.0.0.1');
        assert.equal(final.pathname, '/callback');
        assert.equal(final.searchParams.get('error'), 'access_denied');
        assert.equal(final.searchParams.get('state'), new URL(cli.url).searchParams.get('state'));
        assert.equal(final.searchParams.get('error_description'), null);
        assert.deepEqual([...final.searchParams.keys()].sort(), ['error', 'state']);
        assert.equal(r.status, 400);
        assert.match(r.body, /Login failed\. Return to the terminal/);

        const done = await Promise.race([cli.exited, sleep(20_000).then(() => null)]);
        assert.ok(done, 'the CLI must stop at once, not wait for its timeout');
        assert.notEqual(done.code, 0, done.stderr);
        assert.match(done.stderr, /login cancelled at the identity provider: access_denied/);
        assert.doesNotMatch(done.stderr, /aborted/i, 'no IdP free text on the terminal');
        assert.equal(carl.sessionToken(), null, 'no session stored');
      } finally {
        cli.child.kill('SIGKILL');
      }
    });

  test('an IdP error with the state of a pending CLI login ends it and redirects to the CLI',
    { skip }, async () => {
      const loopback = 'http://127.0.0.1:4242/callback';
      const start = (cliState) => `${stack.baseUrl}/auth/login?redirect_uri=${loopback}` +
          `&state=${cliState}&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`;
      const cases = [
        ['access_denied', 'access_denied'],
        ['login_required', 'login_required'],
        ['consent_required', 'consent_required'],
        ['interaction_required', 'interaction_required'],
        ['temporarily_unavailable', 'temporarily_unavailable'],
        ['made_up%0d%0aSet-Cookie:%20x=1', 'server_error'],
        ['%3Cscript%3Ealert(1)%3C/script%3E', 'server_error'],
      ];
      for (const [error, passedOn] of cases) {
        const { state } = await serverState(start('cli-state-1'));
        const res = await get(`${stack.baseUrl}/auth/callback?error=${error}` +
            `&error_description=%1b%5b2Jyou%20are%20hacked&state=${encodeURIComponent(state)}`);
        assert.equal(res.status, 302, `${error}: ${await res.text()}`);
        assert.equal(res.headers.get('location'),
            `${loopback}?error=${passedOn}&state=cli-state-1`, error);
        // The pending login is gone: the state can no longer complete a login.
        const later = await get(`${stack.baseUrl}/auth/callback?code=whatever` +
            `&state=${encodeURIComponent(state)}`);
        assert.equal(later.status, 400, error);
        assert.match(await later.text(), /invalid_state/, error);
      }
    });

  test('IdP error pages show a fixed text per code and never reflect the parameters', { skip },
    async () => {
      const evil = '%1b%5b31mEVIL%0aTEXT%3cb%3e';
      const cases = [
        ['access_denied', /cancelled or denied at the identity provider/],
        ['login_required', /needs you to sign in/],
        ['consent_required', /needs your consent/],
        ['interaction_required', /complete a step/],
        ['server_error', /internal error/],
        ['temporarily_unavailable', /temporarily unavailable/],
        ['invalid_request', /refused the login request as invalid/],
        [evil, /did not complete the login/],
        ['access_denied%20' + evil, /did not complete the login/],
      ];
      for (const [error, text] of cases) {
        for (const state of ['', '&state=no-such-login']) {
          const res = await get(`${stack.baseUrl}/auth/callback?error=${error}` +
              `&error_description=${evil}${state}`);
          const body = await res.text();
          assert.equal(res.status, 400, `${error}${state}: ${body}`);
          assert.match(body, /^Login failed: /, body);
          assert.match(body, text, `${error}${state}: ${body}`);
          assert.doesNotMatch(body, /EVIL|TEXT|\x1b|<b>/, `${error}${state}: ${body}`);
          assert.equal(body.split('\n').filter(Boolean).length, 1, 'one line, no injected ones');
        }
      }
    });

  test('the web UI login: an IdP error ends at /auth/web/callback with a fixed text', { skip },
    async () => {
      const { state, res } = await serverState(`${stack.baseUrl}/auth/web/login`);
      const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0])
          .find((c) => c.startsWith('cl_weblogin='));
      assert.ok(cookie, 'web login cookie set');
      const cb = await get(`${stack.baseUrl}/auth/callback?error=access_denied` +
          `&error_description=EVIL&state=${encodeURIComponent(state)}`);
      assert.equal(cb.status, 302, await cb.text());
      const location = new URL(cb.headers.get('location'));
      assert.equal(location.origin + location.pathname, `${stack.baseUrl}/auth/web/callback`);
      assert.equal(location.searchParams.get('error'), 'access_denied');
      assert.equal(location.searchParams.get('error_description'), null);
      const page = await get(location.href, { cookie });
      const body = await page.text();
      assert.equal(page.status, 400, body);
      assert.match(body, /cancelled or denied at the identity provider/);
      assert.doesNotMatch(body, /EVIL/);
      assert.ok(page.headers.getSetCookie().some((c) => /^cl_weblogin=;/.test(c)),
          'the web login cookie is cleared');
      // A forged error link (a state not from this browser's login) is not an error page of it.
      const forged = await get(`${stack.baseUrl}/auth/web/callback?error=%1bEVIL&state=x`,
          { cookie });
      const forgedBody = await forged.text();
      assert.equal(forged.status, 400);
      assert.doesNotMatch(forgedBody, /EVIL|\x1b/);
    });

  test('a failed login logs its reason with the request id, never the code or state', { skip },
    async () => {
      const loopback = 'http://127.0.0.1:4243/callback';
      const { state } = await serverState(`${stack.baseUrl}/auth/login?redirect_uri=${loopback}` +
          `&state=cli-state-2&code_challenge=${'d'.repeat(43)}&code_challenge_method=S256`);
      const code = 'bogus-authorization-code-value-0123456789';
      const res = await get(`${stack.baseUrl}/auth/callback?code=${code}` +
          `&state=${encodeURIComponent(state)}`);
      const body = await res.text();
      assert.equal(res.status, 400, body);
      const requestId = res.headers.get('x-request-id');
      assert.ok(requestId);
      await sleep(200); // warn lines are written at once; leave the pipe a moment
      const line = logLines(stack, 'login failed').find((l) => l.request_id === requestId);
      assert.ok(line, `a "login failed" line for ${requestId} in:\n${stack.server.logs()}`);
      assert.equal(line.step, 'callback');
      assert.equal(line.reason, 'invalid_grant');
      assert.match(line.error, /rejected the authorization grant/);
      const logs = stack.server.logs();
      assert.ok(!logs.includes(code), 'the code is never logged');
      assert.ok(!logs.includes(state), 'the state is never logged');

      // A state that names no login: logged as such.
      const forged = await get(`${stack.baseUrl}/auth/callback?code=${code}&state=forged-state-1234`);
      assert.equal(forged.status, 400);
      const forgedId = forged.headers.get('x-request-id');
      await sleep(200);
      const forgedLine = logLines(stack, 'login failed').find((l) => l.request_id === forgedId);
      assert.ok(forgedLine, stack.server.logs());
      assert.equal(forgedLine.reason, 'invalid_state');
      assert.ok(!stack.server.logs().includes('forged-state-1234'));
    });
});
