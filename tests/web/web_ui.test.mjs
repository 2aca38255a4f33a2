// End to end in a real browser: the web UI served by the control plane, against the
// development IdP, with the CLI checking what the UI did. Login, API tokens (create in the
// dialog: organization and project scope, shown once, usable by the CLI; revoke, then refused),
// the auto-revoke setting, members and audit pages, a project admin's view (project tokens only,
// from the permissions the server reports), a viewer's view and forged requests,
// cross-site form posts, security headers and logout. Saves a screenshot of each page.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, show, startStack } from '../e2e/harness.mjs';
import {
  launchBrowser, loginInBrowser, missingBrowserPrerequisite, newContext, screenshot, webDist,
} from './browser.mjs';

const skip = missingPrerequisite({ needDriver: false }) || (await missingBrowserPrerequisite());
const ORG = 'web-org';
const TOKEN_RE = /^clapi_[A-Za-z0-9]{49}$/;
const T = { timeout: 120_000 };

const EXPECTED_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

function tokensOf(r) {
  return JSON.parse(ok(r).stdout).api_tokens;
}

describe('web UI', { skip }, () => {
  let stack;
  let owner; // CLI user with the same IdP account as the browser's owner
  let ci; // a CI job: only ever uses $CHAINLOOP_TOKEN
  let browser;
  let ownerContext;
  let page;
  const created = {}; // name -> token value shown by the dialog

  const asCi = (token, args) => ci.run(['--org', ORG, ...args], { env: { CHAINLOOP_TOKEN: token } });

  before(async () => {
    stack = await startStack({ extraArgs: ['--web-dir', webDist] });
    owner = stack.newUser('olivia.owner');
    await owner.login();
    for (const args of [
      ['organization', 'create', '--name', ORG],
      ['organization', 'set', '--name', ORG],
      ['project', 'create', '--name', 'app'],
      ['project', 'create', '--name', 'other'],
    ]) {
      ok(await owner.run(args));
    }
    ci = stack.newUser('ci-job');
    browser = await launchBrowser();
    ownerContext = await newContext(browser);
    page = await ownerContext.newPage();
  });

  after(async () => {
    await browser?.close();
    await stack?.cleanup();
  });

  test('every page carries the security headers; the SPA answers client routes', T, async () => {
    for (const path of ['/', '/api-tokens', '/settings?tab=api-tokens', '/members', '/audit']) {
      const r = await fetch(`${stack.baseUrl}${path}`);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/, path);
      assert.equal(r.headers.get('content-security-policy'), EXPECTED_CSP, path);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(r.headers.get('x-frame-options'), 'DENY', path);
      const html = await r.text();
      assert.match(html, /<div id="root"><\/div>/, path);
      assert.doesNotMatch(html, /<script>|<style|style=/, `${path}: no inline script or style`);
    }
    const html = await (await fetch(`${stack.baseUrl}/`)).text();
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    assert.ok(script, html);
    const js = await fetch(`${stack.baseUrl}${script}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
    // The API is not swallowed by the SPA fallback.
    const whoami = await fetch(`${stack.baseUrl}/v1/auth/whoami`);
    assert.equal(whoami.status, 401);
  });

  test('log in through the IdP; HttpOnly session cookie, readable CSRF cookie', T, async () => {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('link', { name: 'Log in' }).waitFor();
    await screenshot(page, 'login');
    await loginInBrowser(page, stack.baseUrl, owner.account);
    await page.getByRole('heading', { name: 'API Tokens' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/api-tokens');
    const switcher = page.getByLabel('Organization');
    assert.equal(await switcher.inputValue(), ORG);
    assert.match(await switcher.locator('option:checked').innerText(), /web-org \(owner\)/);
    assert.equal(await page.getByTestId('current-role').innerText(), 'owner');

    const cookies = await ownerContext.cookies(stack.baseUrl);
    const session = cookies.find((c) => c.name === 'cl_session');
    const csrf = cookies.find((c) => c.name === 'cl_csrf');
    assert.ok(session && csrf, JSON.stringify(cookies.map((c) => c.name)));
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    const hours = (session.expires * 1000 - Date.now()) / 3_600_000;
    assert.ok(hours > 23 && hours <= 24.01, `session cookie lives 24 h, not ${hours} h`);
    assert.equal(csrf.httpOnly, false);
    // The page cannot read the session token.
    const visible = await page.evaluate(() => document.cookie);
    assert.doesNotMatch(visible, /cl_session/);
    assert.match(visible, /cl_csrf=/);
    await page.getByText('No active API tokens').waitFor();
    await screenshot(page, 'api-tokens-empty');
  });

  test('same-origin writes without the CSRF header are refused', T, async () => {
    const r = await page.evaluate(async (org) => {
      const resp = await fetch(`/v1/organizations/${org}/api-tokens`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'no-csrf' }),
      });
      return { status: resp.status, body: await resp.json() };
    }, ORG);
    assert.equal(r.status, 403, JSON.stringify(r));
    assert.equal(r.body.error.code, 'csrf_failed');
  });

  test('create an organization-scoped token: validated name, shown once, works in the CLI', T,
      async () => {
        await page.getByRole('button', { name: 'Create token' }).click();
        const dialog = page.getByRole('dialog', { name: 'Create API token' });
        await dialog.waitFor();
        const name = dialog.getByLabel('Name');
        await name.fill('Bad_Name');
        await dialog.getByText("Use only lowercase letters, digits and '-'.").waitFor();
        assert.equal(await name.getAttribute('aria-invalid'), 'true');
        await name.fill('x'.repeat(64));
        await dialog.getByText('At most 63 characters (now 64).').waitFor();
        await name.fill('web-ci');
        assert.equal(await name.getAttribute('aria-invalid'), 'false');
        await dialog.getByLabel('Description').fill('CI of the web team');
        await dialog.getByLabel('Expires').selectOption('30');
        // The attestation set is checked by default, the rest is not.
        for (const p of ['organization:read', 'workflow_run:create', 'workflow:create']) {
          assert.equal(await dialog.getByLabel(p).isChecked(), true, p);
        }
        assert.equal(await dialog.getByLabel('api_token:create').isChecked(), false);
        await screenshot(page, 'create-token-dialog', { fullPage: false });
        await dialog.getByRole('button', { name: 'Create token' }).click();

        const shown = page.getByRole('dialog', { name: 'API token web-ci created' });
        await shown.waitFor();
        await shown.getByText('It is shown only once').waitFor();
        const token = await shown.getByTestId('new-token').inputValue();
        assert.match(token, TOKEN_RE);
        created['web-ci'] = token;
        await shown.getByRole('button', { name: 'Copy' }).waitFor();
        await screenshot(page, 'token-created', { fullPage: false, mask: [shown.getByTestId('new-token')] });
        await shown.getByRole('button', { name: /close/i }).first().click();
        await shown.waitFor({ state: 'detached' });
        // Gone from the page for good.
        assert.equal(await page.content().then((html) => html.includes(token)), false);

        const row = page.locator('tr[data-token-name="web-ci"]');
        await row.waitFor();
        assert.match(await row.innerText(), /global/);
        assert.match(await row.innerText(), /CI of the web team/);

        const tokens = tokensOf(await owner.run(['organization', 'api-token', 'list', '-o', 'json']));
        const t = tokens.find((x) => x.name === 'web-ci');
        assert.ok(t, JSON.stringify(tokens));
        assert.equal(t.scope, 'global');
        const days = (Date.parse(t.expires_at) - Date.now()) / 86_400_000;
        assert.ok(days > 29.9 && days <= 30.01, `expires in 30 days, not ${days}`);
        ok(await asCi(token, ['workflow', 'run', 'list']));
        ok(await asCi(token, ['attestation', 'init', '--workflow', 'web-build', '--project', 'other']));
      });

  test('create a project-scoped token; the CLI can use it for that project only', T, async () => {
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create API token' });
    await dialog.getByLabel('Name').fill('web-app');
    await dialog.getByLabel('One project').check();
    await dialog.getByLabel('Project', { exact: true }).selectOption('app');
    await dialog.getByLabel('Expires').selectOption('custom');
    const in10 = new Date(Date.now() + 10 * 86_400_000);
    const ymd = `${in10.getFullYear()}-${String(in10.getMonth() + 1).padStart(2, '0')}-` +
        String(in10.getDate()).padStart(2, '0');
    await dialog.getByLabel('Expiry date').fill(ymd);
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'API token web-app created' });
    const token = await shown.getByTestId('new-token').inputValue();
    assert.match(token, TOKEN_RE);
    created['web-app'] = token;
    await shown.getByRole('button', { name: /close/i }).first().click();
    const row = page.locator('tr[data-token-name="web-app"]');
    await row.waitFor();
    assert.match(await row.innerText(), /project\/app/);
    await screenshot(page, 'api-tokens');

    const t = tokensOf(await owner.run(['organization', 'api-token', 'list', '-o', 'json']))
        .find((x) => x.name === 'web-app');
    assert.equal(t.scope, 'project');
    assert.equal(t.project, 'app');
    const days = (Date.parse(t.expires_at) - Date.now()) / 86_400_000;
    assert.ok(days > 10 && days <= 11.01, `expires at the end of the chosen day, not in ${days} days`);
    ok(await asCi(token, ['attestation', 'init', '--workflow', 'web-build', '--project', 'app']));
    const other = await asCi(token, ['attestation', 'init', '--workflow', 'web-build', '--project',
      'other']);
    assert.notEqual(other.code, 0, `a project token cannot attest elsewhere\n${show(other)}`);
  });

  test('revoke asks for confirmation; the CLI is refused afterwards', T, async () => {
    const row = page.locator('tr[data-token-name="web-ci"]');
    await row.getByRole('button', { name: 'Revoke web-ci' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke API token' });
    await confirm.getByText('cannot be undone').waitFor();
    await screenshot(page, 'revoke-confirm', { fullPage: false });
    // Cancel keeps it.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    ok(await asCi(created['web-ci'], ['workflow', 'run', 'list']));

    await row.getByRole('button', { name: 'Revoke web-ci' }).click();
    await page.getByRole('dialog', { name: 'Revoke API token' })
        .getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('API token web-ci revoked.').waitFor();
    await row.waitFor({ state: 'detached' });

    await page.getByRole('tab', { name: 'Revoked' }).click();
    const revoked = page.locator('tr[data-token-name="web-ci"]');
    await revoked.waitFor();
    assert.match(await revoked.innerText(), /manual/);
    assert.equal(await revoked.getByRole('button', { name: /Revoke/ }).count(), 0);
    await screenshot(page, 'api-tokens-revoked');

    const refused = await asCi(created['web-ci'], ['workflow', 'run', 'list']);
    assert.notEqual(refused.code, 0, show(refused));
    assert.match(refused.stderr, /revoked/i, show(refused));
    // The other token still works.
    ok(await asCi(created['web-app'], ['workflow', 'run', 'list']));
  });

  test('rotate shows the new token once; the old one is refused at once without grace', T,
      async () => {
    await page.getByRole('tab', { name: 'Active' }).click();
    const row = page.locator('tr[data-token-name="web-app"]');
    await row.getByRole('link', { name: 'web-app' }).click();
    await page.getByRole('heading', { name: /API token web-app/ }).waitFor();
    await page.getByRole('button', { name: 'Rotate token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate API token' });
    await dialog.getByLabel('The old token keeps working for').selectOption('0');
    await dialog.getByRole('button', { name: 'Rotate token' }).click();
    const shown = page.getByRole('dialog', { name: 'API token web-app rotated' });
    const token = await shown.getByTestId('new-token').inputValue();
    assert.match(token, TOKEN_RE);
    assert.notEqual(token, created['web-app']);
    await shown.getByRole('button', { name: /close/i }).first().click();
    await page.getByText('API token web-app rotated.').waitFor();
    // The old token's page now shows it revoked, reason rotated.
    await page.getByTestId('token-revoked').getByText(/rotated/).waitFor();
    const refused = await asCi(created['web-app'], ['workflow', 'run', 'list']);
    assert.notEqual(refused.code, 0, show(refused));
    ok(await asCi(token, ['workflow', 'run', 'list']));
    created['web-app'] = token;
  });

  test('auto revoke: validated, on at 7 days (CLI agrees), then off', T, async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL(/\/settings\?tab=api-tokens$/);
    const status = page.getByTestId('auto-revoke-status');
    await status.getByText('Off').waitFor();
    await page.getByRole('button', { name: 'Auto revoke' }).click();
    const dialog = page.getByRole('dialog', { name: 'Auto revoke inactive API tokens' });
    const days = dialog.getByLabel('Revoke tokens unused for (days)');
    await days.fill('400');
    const message = 'api_token_max_days_inactive must be from 1 to 365 days (0 turns auto-revocation off)';
    await dialog.getByText(message).waitFor();
    assert.equal(await days.getAttribute('aria-invalid'), 'true');
    // Below web-app's 11-day lifetime: a token that expires before it could be revoked for
    // inactivity has no auto-revoke date.
    await days.fill('7');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await status.getByText('Tokens unused for 7 days are revoked.').waitFor();
    await screenshot(page, 'settings-auto-revoke');

    const on = ok(await owner.run(['organization', 'describe']));
    assert.match(on.stdout, /API token auto-revoke after: 7 days inactive/, show(on));
    // Active tokens now show their auto-revoke date.
    await page.goto(`${stack.baseUrl}/api-tokens`);
    await page.locator('tr[data-token-name="web-app"] td[data-label="Auto revoke"] time').waitFor();

    await page.goto(`${stack.baseUrl}/settings?tab=api-tokens`);
    await page.getByRole('button', { name: 'Auto revoke' }).click();
    await page.getByRole('dialog', { name: 'Auto revoke inactive API tokens' })
        .getByRole('button', { name: 'Turn off' }).click();
    await status.getByText('Off').waitFor();
    const off = ok(await owner.run(['organization', 'describe']));
    assert.doesNotMatch(off.stdout, /auto-revoke/, show(off));
  });

  test('members: invite a viewer by email; pending invitation listed', T, async () => {
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByRole('heading', { name: 'Members' }).waitFor();
    await page.getByRole('cell', { name: 'olivia.owner@example.com' }).waitFor();
    await page.getByText('No pending invitations').waitFor();
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByText('Enter an email address.').waitFor();
    await page.getByLabel('Email').fill('victor.viewer@example.com');
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByText('Invitation sent to victor.viewer@example.com as viewer.').waitFor();
    await page.getByRole('cell', { name: 'victor.viewer@example.com', exact: true }).waitFor();
  });

  test('audit log lists events newest first', T, async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const times = page.locator('tbody td[data-label="When"] time');
    await times.first().waitFor();
    const stamps = await times.evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
    assert.ok(stamps.length >= 4, JSON.stringify(stamps));
    const sorted = [...stamps].sort().reverse();
    assert.deepEqual(stamps, sorted);
    const text = await page.locator('tbody').innerText();
    assert.match(text, /revoke/i);
  });

  test('phone-sized window: tables become readable cards', T, async () => {
    const phone = await newContext(browser, { viewport: { width: 390, height: 844 } });
    try {
      await phone.addCookies(await ownerContext.cookies(stack.baseUrl));
      const p = await phone.newPage();
      await p.goto(`${stack.baseUrl}/api-tokens`);
      await p.locator('tr[data-token-name="web-app"]').waitFor();
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `no horizontal scrolling on a phone (page is ${width}px wide)`);
      await screenshot(p, 'api-tokens-phone');
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.close();
    }
  });

  test('a viewer sees no controls, and forged requests from the session are refused', T,
      async () => {
        const context = await newContext(browser);
        try {
          const p = await context.newPage();
          await loginInBrowser(p, stack.baseUrl, 'victor.viewer');
          assert.equal(await p.getByTestId('current-role').innerText(), 'viewer');
          await p.getByText('it does not let you see or manage API tokens').waitFor();
          assert.equal(await p.getByRole('button', { name: 'Create token' }).count(), 0);
          assert.equal(await p.getByRole('button', { name: /Revoke/ }).count(), 0);
          await screenshot(p, 'viewer-api-tokens');

          await p.goto(`${stack.baseUrl}/settings?tab=api-tokens`);
          await p.getByText('Your role does not let you change this setting.').waitFor();
          assert.equal(await p.getByRole('button', { name: 'Auto revoke' }).count(), 0);
          await p.goto(`${stack.baseUrl}/members`);
          await p.getByRole('cell', { name: 'victor.viewer@example.com' }).waitFor();
          assert.equal(await p.getByRole('button', { name: 'Invite' }).count(), 0);
          assert.equal(await p.getByText('Pending invitations').count(), 0);

          // The server refuses what the UI hides, even with a valid CSRF header.
          const forged = await p.evaluate(async (org) => {
            const csrf = document.cookie.split('; ').find((c) => c.startsWith('cl_csrf='))?.slice(8) ?? '';
            const send = async (method, path, body) => {
              const r = await fetch(path, {
                method,
                credentials: 'same-origin',
                headers: { 'X-CSRF-Token': decodeURIComponent(csrf), 'Content-Type': 'application/json' },
                body: JSON.stringify(body),
              });
              return { status: r.status, body: await r.json().catch(() => null) };
            };
            return {
              create: await send('POST', `/v1/organizations/${org}/api-tokens`, { name: 'viewer-token' }),
              createInProject: await send('POST', `/v1/organizations/${org}/api-tokens`,
                  { name: 'viewer-token', project: 'app' }),
              patch: await send('PATCH', `/v1/organizations/${org}`, { api_token_max_days_inactive: 1 }),
              invite: await send('POST', `/v1/organizations/${org}/invitations`,
                  { receiver_email: 'x@example.com', role: 'owner' }),
              hadCsrf: csrf.length > 0,
            };
          }, ORG);
          assert.equal(forged.hadCsrf, true);
          for (const what of ['create', 'createInProject', 'patch', 'invite']) {
            assert.equal(forged[what].status, 403, `${what}: ${JSON.stringify(forged[what])}`);
            assert.equal(forged[what].body?.error?.code, 'permission_denied', what);
          }
          const names = tokensOf(await owner.run(['organization', 'api-token', 'list', '--status',
            'all', '-o', 'json'])).map((t) => t.name);
          assert.ok(!names.includes('viewer-token'), names.join(','));
          assert.deepEqual(context.problems, []);
        } finally {
          await context.close();
        }
      });

  test('a member who is a project admin creates tokens for that project only', T, async () => {
    ok(await owner.run(['organization', 'invitation', 'create', '--receiver',
      'mia.member@example.com', '--role', 'member']));
    const context = await newContext(browser);
    try {
      const p = await context.newPage();
      await loginInBrowser(p, stack.baseUrl, 'mia.member');
      assert.equal(await p.getByTestId('current-role').innerText(), 'member');
      // Without a project role a member may not touch tokens.
      await p.getByText('it does not let you see or manage API tokens').waitFor();
      assert.equal(await p.getByRole('button', { name: 'Create token' }).count(), 0);

      // Creating a project makes her its admin; the server now reports api_token:create there.
      const project = await p.evaluate(async (org) => {
        const csrf = document.cookie.split('; ').find((c) => c.startsWith('cl_csrf='))?.slice(8) ?? '';
        const headers = { 'X-CSRF-Token': decodeURIComponent(csrf), 'Content-Type': 'application/json' };
        const created = await fetch(`/v1/organizations/${org}/projects`,
            { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify({ name: 'mias' }) });
        const described = await fetch(`/v1/organizations/${org}`, { credentials: 'same-origin' });
        const orgWide = await fetch(`/v1/organizations/${org}/api-tokens`, {
          method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify({ name: 'mia-global' }),
        });
        return { created: created.status, described: await described.json(), orgWide: orgWide.status };
      }, ORG);
      assert.equal(project.created, 201, JSON.stringify(project));
      assert.ok(!project.described.permissions.includes('api_token:create'), JSON.stringify(project));
      assert.deepEqual(project.described.project_permissions.map((x) => x.project_name), ['mias']);
      assert.ok(project.described.project_permissions[0].permissions.includes('api_token:create'));
      assert.equal(project.orgWide, 403, 'no organization-scoped token for a project admin');

      await p.reload();
      await p.getByText('No active API tokens').waitFor();
      await p.getByRole('button', { name: 'Create token' }).click();
      const dialog = p.getByRole('dialog', { name: 'Create API token' });
      await dialog.getByLabel('Name').fill('mia-ci');
      // Only her project is offered; the organization scope is not.
      assert.equal(await dialog.getByRole('radio').count(), 0);
      assert.equal(await dialog.getByText('all projects of').count(), 0);
      const choice = dialog.getByLabel('Project', { exact: true });
      assert.deepEqual(await choice.locator('option').allInnerTexts(), ['mias']);
      // What a project admin holds there is offered, token management included.
      assert.equal(await dialog.getByLabel('api_token:create').count(), 1);
      await dialog.getByRole('button', { name: 'Create token' }).click();
      const shown = p.getByRole('dialog', { name: 'API token mia-ci created' });
      const token = await shown.getByTestId('new-token').inputValue();
      assert.match(token, TOKEN_RE);
      await shown.getByRole('button', { name: /close/i }).first().click();
      const row = p.locator('tr[data-token-name="mia-ci"]');
      await row.waitFor();
      assert.match(await row.innerText(), /project\/mias/);
      await row.getByRole('button', { name: 'Revoke mia-ci' }).waitFor();
      // Tokens of projects she does not administer are not listed.
      assert.equal(await p.locator('tr[data-token-name="web-app"]').count(), 0);

      const t = tokensOf(await owner.run(['organization', 'api-token', 'list', '-o', 'json']))
          .find((x) => x.name === 'mia-ci');
      assert.equal(t.scope, 'project');
      assert.equal(t.project, 'mias');
      ok(await asCi(token, ['attestation', 'init', '--workflow', 'mia-build', '--project', 'mias']));
      assert.deepEqual(context.problems, []);
    } finally {
      await context.close();
    }
  });

  test('a cross-site form post is refused and does not end the session', T, async () => {
    // The attacker's pages: auto-submitting forms aimed at the control plane. Served from
    // another port on 127.0.0.1 (same site, other origin: the cookie is sent, the CSRF check
    // refuses) and from `localhost` (another site: SameSite=Lax keeps the cookie home).
    const target = `${stack.baseUrl}/v1/organizations/${ORG}/api-tokens`;
    const attacker = createServer((req, res) => {
      const action = req.url === '/logout' ? `${stack.baseUrl}/v1/auth/logout` : target;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><form method="POST" action="${action}" enctype="text/plain">` +
          `<input name='{"name":"evil-token","x":"' value='"}'></form>` +
          '<script>document.forms[0].submit()</script>');
    });
    await new Promise((res) => attacker.listen(0, '127.0.0.1', res));
    const { port } = attacker.address();
    try {
      for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
        for (const path of ['/create', '/logout']) {
          const p = await ownerContext.newPage();
          const posted = p.waitForResponse((r) => r.url().startsWith(stack.baseUrl) &&
              r.request().method() === 'POST');
          await p.goto(`${origin}${path}`);
          const resp = await posted;
          const body = await resp.text();
          assert.ok([401, 403].includes(resp.status()),
              `${origin}${path}: cross-site post answered ${resp.status()} ${body}`);
          // Same site, other origin: the browser sends the cookie; the CSRF check refuses.
          if (origin.includes('127.0.0.1')) assert.match(body, /csrf_failed/, `${origin}${path}`);
          await p.close();
        }
      }
    } finally {
      attacker.close();
    }
    const names = tokensOf(await owner.run(['organization', 'api-token', 'list', '--status', 'all',
      '-o', 'json'])).map((t) => t.name);
    assert.ok(!names.includes('evil-token'), names.join(','));
    // Still logged in: the forged logouts did nothing.
    await page.goto(`${stack.baseUrl}/api-tokens`);
    await page.locator('tr[data-token-name="web-app"]').waitFor();
  });

  test('logout ends the session', T, async () => {
    const before = (await ownerContext.cookies(stack.baseUrl)).find((c) => c.name === 'cl_session');
    assert.ok(before);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('link', { name: 'Log in' }).waitFor();
    const after = (await ownerContext.cookies(stack.baseUrl)).find((c) => c.name === 'cl_session');
    assert.equal(after, undefined, 'the session cookie is cleared');
    const whoami = await page.evaluate(async () => (await fetch('/v1/auth/whoami')).status);
    assert.equal(whoami, 401);
    // The old cookie value is dead on the server too, not just forgotten by the browser.
    const replay = await api(stack, 'GET', '/v1/auth/whoami',
        { headers: { cookie: `cl_session=${before.value}` } });
    assert.equal(replay.status, 401, JSON.stringify(replay.body));
    await page.reload();
    await page.getByRole('link', { name: 'Log in' }).waitFor();
    assert.deepEqual(ownerContext.problems, [], 'the CSP blocked nothing the UI needs');
  });
});
