// Browser tests of the API token pages: Active / Expired / Revoked tabs decided by the server's
// `state` (not the browser's clock), the 7-day warnings, dates in the viewer's time zone (relative,
// exact on hover and for screen readers), lists that follow next_cursor, the create dialog
// (30-day default, the "Never" warning, focus, a phone-sized window), the token details page with
// its audit events ("Load more"), a title per page, a viewer's view and axe-core on every page
// and dialog visited. Saves laptop and phone screenshots of the list, details and dialog.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startCiIssuer } from '../e2e/ci_issuer.mjs';
import { api, missingPrerequisite, show, sleep, startStack } from '../e2e/harness.mjs';
import { exchange } from '../e2e/keyless_fixture.mjs';
import {
  expectNoAxeViolations, launchBrowser, loginInBrowser, missingBrowserPrerequisite, newContext,
  pageFetch, screenshot, webDist,
} from './browser.mjs';

const skip = missingPrerequisite({ needDriver: false }) || (await missingBrowserPrerequisite());
const ORG = 'tok-org';
const T = { timeout: 120_000 };
const DAY = 86_400;
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 667 };
// No daylight saving time there, so its short zone name is always the same.
const ZONE = { timezoneId: 'Asia/Tokyo', locale: 'en-US' };

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

// Rewrites the `limit` of the matching API list requests to `limit`, so that a handful of rows
// spans several pages of the real server; returns the URLs requested.
async function smallPages(page, pathPart, limit) {
  const seen = [];
  await page.route((url) => url.pathname.endsWith(pathPart), (route) => {
    const url = new URL(route.request().url());
    url.searchParams.set('limit', String(limit));
    seen.push(url);
    return route.continue({ url: url.toString() });
  });
  return seen;
}

describe('web UI: API token states, dates, details', { skip }, () => {
  let stack;
  let issuer; // a GitLab-shaped CI issuer on loopback, trusted by the stack
  let owner;
  let browser;
  let context;
  let page;
  const tokens = {}; // name -> Token as the API returned it at creation
  const values = {}; // name -> secret

  const asOwner = (method, path, body) =>
    api(stack, method, `/v1/organizations/${ORG}${path}`, { token: owner.sessionToken(), body });

  async function createToken(body, { token } = {}) {
    const r = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
        { token: token ?? owner.sessionToken(), body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    tokens[body.name] = r.body.api_token;
    values[body.name] = r.body.token;
    return r.body.api_token;
  }

  async function listed(status) {
    const r = await asOwner('GET', `/api-tokens?status=${status}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.api_tokens;
  }

  async function openTab(p, name) {
    await p.getByRole('tab', { name }).click();
    await p.getByRole('tab', { name, selected: true }).waitFor();
    await p.locator('#tokens-panel').locator('table, .state-empty').first().waitFor();
  }

  before(async () => {
    issuer = await startCiIssuer();
    stack = await startStack({ extraArgs: ['--web-dir', webDist, '--federation-issuers', issuer.url] });
    issuer.audience = stack.baseUrl;
    owner = stack.newUser('olga.owner');
    await owner.login();
    for (const args of [
      ['organization', 'create', '--name', ORG],
      ['organization', 'set', '--name', ORG],
      ['project', 'create', '--name', 'app'],
      ['organization', 'invitation', 'create', '--receiver', 'vic.viewer@example.com', '--role', 'viewer'],
    ]) {
      ok(await owner.run(args));
    }
    await createToken({ name: 'long-lived', description: 'release pipeline', expires_in_seconds: 30 * DAY });
    await createToken({ name: 'soon', expires_in_seconds: 3 * DAY });
    await createToken({ name: 'forever' });
    await createToken({
      name: 'maker',
      expires_in_seconds: 60 * DAY,
      permissions: ['organization:read', 'api_token:create', 'api_token:read'],
    });
    // Created by an API token, not by a person.
    await createToken({ name: 'made-by-token', expires_in_seconds: 20 * DAY, project: 'app',
      permissions: ['organization:read'] },
        { token: values.maker });
    // Created by a CI job's exchanged identity (keyless), through a trust policy.
    const policy = await asOwner('POST', '/federation-policies', {
      name: 'gitlab-app',
      issuer: issuer.url,
      provider: 'gitlab',
      bound_claims: { project_id: '4242' },
      project: 'app',
      permissions: ['organization:read', 'api_token:create'],
    });
    assert.equal(policy.status, 201, JSON.stringify(policy.body));
    const exchanged = await exchange(stack, issuer.mint(), ORG);
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    await createToken({ name: 'made-by-ci', expires_in_seconds: 300, project: 'app', permissions: ['organization:read'] },
        { token: exchanged.body.access_token });
    await createToken({ name: 'short', expires_in_seconds: 2 });
    await createToken({ name: 'gone', expires_in_seconds: 10 * DAY });
    ok(await owner.run(['organization', 'api-token', 'revoke', '--id', tokens.gone.id, '--yes']));
    // An inactivity threshold, so active tokens get an auto-revoke date and others must not.
    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive', '40']));
    await sleep(2500); // `short` is now past its expiry

    browser = await launchBrowser();
    context = await browser.newContext({ viewport: LAPTOP, ...ZONE });
    context.problems = [];
    page = await context.newPage();
    page.on('pageerror', (err) => context.problems.push(`page error: ${err.message}`));
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('link', { name: 'Log in' }).waitFor();
    assert.equal(await page.title(), 'Log in · Chainloop');
    await expectNoAxeViolations(page, 'login page');
    await loginInBrowser(page, stack.baseUrl, owner.account);
  });

  after(async () => {
    await browser?.close();
    await stack?.cleanup();
    await issuer?.stop();
  });

  test('the server\'s state decides the tab and badge; auto-revoke dates only where sent', T,
      async () => {
        const byState = {
          active: (await listed('active')).map((t) => t.name).sort(),
          expired: (await listed('expired')).map((t) => t.name).sort(),
          revoked: (await listed('revoked')).map((t) => t.name).sort(),
        };
        assert.deepEqual(byState.expired, ['short'], JSON.stringify(byState));
        assert.deepEqual(byState.revoked, ['gone'], JSON.stringify(byState));

        await page.goto(`${stack.baseUrl}/api-tokens`);
        for (const [tab, state] of [['Active', 'active'], ['Expired', 'expired'], ['Revoked', 'revoked']]) {
          await openTab(page, tab);
          const rows = page.locator('#tokens-panel tbody tr');
          const names = (await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.tokenName))).sort();
          assert.deepEqual(names, byState[state], tab);
          for (const badge of await rows.getByTestId('token-state').allInnerTexts()) assert.equal(badge, tab);
          const headers = await page.locator('#tokens-panel thead th').allInnerTexts();
          // The API sends no auto-revoke date for expired or revoked tokens: no such column.
          assert.equal(headers.some((h) => /auto revoke/i.test(h)), state === 'active', `${tab}: ${headers}`);
          await expectNoAxeViolations(page, `API tokens, ${tab} tab`);
        }
        const expired = page.locator('tr[data-token-name="short"]');
        await openTab(page, 'Expired');
        assert.equal(await expired.getAttribute('data-token-state'), 'expired');
        assert.equal(await expired.getByRole('button', { name: /Revoke/ }).count(), 1, 'an expired token can still be revoked');
        await openTab(page, 'Revoked');
        assert.match(await page.locator('tr[data-token-name="gone"]').innerText(), /manual/);
        assert.equal(await page.locator('tr[data-token-name="gone"]').getByRole('button').count(), 0);

        await openTab(page, 'Active');
        const soon = page.locator('tr[data-token-name="soon"]');
        await soon.getByTestId('expires-soon').waitFor();
        for (const name of ['long-lived', 'forever', 'maker', 'made-by-token']) {
          assert.equal(await page.locator(`tr[data-token-name="${name}"]`).getByTestId('expires-soon').count(), 0, name);
        }
        await page.getByText('Marked tokens expire within 7 days').waitFor();
        // Active tokens show the auto-revoke date the API sent (the 40-day threshold).
        const forever = (await listed('active')).find((t) => t.name === 'forever');
        assert.ok(forever.auto_revoke_at, JSON.stringify(forever));
        assert.equal(await page.locator('tr[data-token-name="forever"] td[data-label="Auto revoke"] time')
            .getAttribute('datetime'), forever.auto_revoke_at);
        await screenshot(page, 'tokens-list');
        assert.deepEqual(context.problems, []);
      });

  test('a browser clock a year ahead changes no state: the server decides', T, async () => {
    const ahead = await browser.newContext({ viewport: LAPTOP, ...ZONE });
    try {
      await ahead.addCookies(await context.cookies(stack.baseUrl));
      const p = await ahead.newPage();
      await p.clock.install({ time: new Date(Date.now() + 365 * DAY * 1000) });
      await p.goto(`${stack.baseUrl}/api-tokens`);
      const soon = p.locator('tr[data-token-name="soon"]');
      await soon.waitFor();
      assert.equal(await soon.getAttribute('data-token-state'), 'active');
      assert.equal(await soon.getByTestId('token-state').innerText(), 'Active');
      await openTab(p, 'Expired');
      const names = await p.locator('#tokens-panel tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.tokenName));
      assert.deepEqual(names, ['short']);
    } finally {
      await ahead.close();
    }
  });

  test('dates: relative, exact in the viewer\'s zone on hover and for screen readers', T, async () => {
    await page.goto(`${stack.baseUrl}/api-tokens`);
    const row = page.locator('tr[data-token-name="soon"]');
    const expires = row.locator('td[data-label="Expires"] time');
    await expires.waitFor();
    assert.equal(await expires.getAttribute('datetime'), tokens.soon.expires_at);
    assert.match(await expires.innerText(), /^in 3 days/);
    const title = await expires.getAttribute('title');
    // Asia/Tokyo is UTC+9: the exact local time, with the zone named.
    const local = new Date(Date.parse(tokens.soon.expires_at) + 9 * 3600_000);
    const hour = local.getUTCHours() % 12 || 12;
    assert.match(title, /GMT\+9/, title);
    assert.match(title, new RegExp(`\\b${local.getUTCDate()}, ${local.getUTCFullYear()}, 0?${hour}:`), title);
    // Screen readers get the exact time too, not only "in 3 days".
    const spoken = await expires.evaluate((el) => el.textContent);
    assert.ok(spoken.includes(title), `${spoken} / ${title}`);
    const created = row.locator('td[data-label="Created"] time');
    assert.match(await created.innerText(), /ago|now/);
    const longLived = page.locator('tr[data-token-name="long-lived"] td[data-label="Expires"] time');
    assert.match(await longLived.innerText(), /^in 30 days/);
  });

  test('lists follow next_cursor: every token, page by page', T, async () => {
    const p = await context.newPage();
    try {
      const seen = await smallPages(p, `/organizations/${ORG}/api-tokens`, 2);
      await p.goto(`${stack.baseUrl}/api-tokens`);
      await p.locator('tr[data-token-name]').first().waitFor();
      const all = (await listed('active')).map((t) => t.name).sort();
      assert.ok(all.length >= 5, all.join(','));
      const names = (await p.locator('tr[data-token-name]').evaluateAll((trs) => trs.map((tr) => tr.dataset.tokenName))).sort();
      assert.deepEqual(names, all);
      const cursors = seen.filter((u) => u.searchParams.has('cursor'));
      assert.ok(cursors.length >= 2, `followed next_cursor: ${seen.map(String).join('\n')}`);
    } finally {
      await p.close();
    }
  });

  test('create dialog: focus in Name, 30 days by default, "Never" warns', T, async () => {
    await page.goto(`${stack.baseUrl}/api-tokens`);
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create API token' });
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'name');
    const expiry = dialog.getByLabel('Expires');
    assert.equal(await expiry.inputValue(), '30');
    assert.equal(await dialog.getByTestId('never-expires-warning').count(), 0);
    await expectNoAxeViolations(page, 'create dialog');
    await expiry.selectOption('none');
    const warning = dialog.getByTestId('never-expires-warning');
    await warning.waitFor();
    assert.match(await warning.innerText(), /never expires is a risk/);
    // The warning is read with the field.
    assert.equal(await expiry.getAttribute('aria-describedby'), await warning.getAttribute('id'));
    await dialog.getByLabel('Name').fill('dialog-made');
    await expectNoAxeViolations(page, 'create dialog, "Never" chosen');
    await screenshot(page, 'create-token-never', { fullPage: false });
    await expiry.selectOption('30');
    await warning.waitFor({ state: 'detached' });
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'API token dialog-made created' });
    await shown.waitFor();
    await expectNoAxeViolations(page, 'token shown once');
    await shown.getByRole('button', { name: /close/i }).first().click();
    const t = (await listed('active')).find((x) => x.name === 'dialog-made');
    const days = (Date.parse(t.expires_at) - Date.now()) / (DAY * 1000);
    assert.ok(days > 29.9 && days <= 30.01, `the default is 30 days, not ${days}`);
    // The revoke confirmation is a dialog too.
    await page.locator('tr[data-token-name="dialog-made"]').getByRole('button', { name: 'Revoke dialog-made' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke API token' });
    await confirm.waitFor();
    await expectNoAxeViolations(page, 'revoke confirmation');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
  });

  test('create dialog on a phone: the buttons stay visible, the body scrolls', T, async () => {
    const phone = await browser.newContext({ viewport: PHONE, ...ZONE });
    try {
      await phone.addCookies(await context.cookies(stack.baseUrl));
      const p = await phone.newPage();
      await p.goto(`${stack.baseUrl}/api-tokens`);
      await p.locator('tr[data-token-name="soon"]').waitFor();
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `no horizontal scrolling (page is ${width}px wide)`);
      await expectNoAxeViolations(p, 'API tokens on a phone');
      await screenshot(p, 'tokens-list-phone');
      await p.getByRole('button', { name: 'Create token' }).click();
      const dialog = p.getByRole('dialog', { name: 'Create API token' });
      await dialog.waitFor();
      await dialog.getByLabel('Expires').selectOption('none');
      const body = dialog.locator('.dialog-body');
      const scroll = await body.evaluate((el) => ({ h: el.scrollHeight, c: el.clientHeight }));
      assert.ok(scroll.h > scroll.c, `the form is taller than the phone: it scrolls (${JSON.stringify(scroll)})`);
      for (const name of ['Create token', 'Cancel']) {
        const button = dialog.getByRole('button', { name, exact: true });
        const box = await button.boundingBox();
        assert.ok(box && box.y >= 0 && box.y + box.height <= PHONE.height,
            `${name} is on screen without scrolling: ${JSON.stringify(box)}`);
        // Nothing covers it: the point at its centre is the button itself.
        const onTop = await button.evaluate((el) => {
          const r = el.getBoundingClientRect();
          return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
        });
        assert.equal(onTop, true, name);
      }
      // Still there after scrolling the body to its end.
      await body.evaluate((el) => el.scrollTo(0, el.scrollHeight));
      const box = await dialog.getByRole('button', { name: 'Create token' }).boundingBox();
      assert.ok(box.y + box.height <= PHONE.height, JSON.stringify(box));
      await expectNoAxeViolations(p, 'create dialog on a phone');
      await body.evaluate((el) => el.scrollTo(0, 0));
      await screenshot(p, 'create-token-phone', { fullPage: false });
    } finally {
      await phone.close();
    }
  });

  test('token details: scope, permissions, creator, dates, revocation and its audit events', T,
      async () => {
        await page.goto(`${stack.baseUrl}/api-tokens`);
        await page.locator('tr[data-token-name="made-by-token"]').getByRole('link', { name: 'made-by-token' }).click();
        await page.waitForURL(`${stack.baseUrl}/api-tokens/${tokens['made-by-token'].id}`);
        await page.getByRole('heading', { name: /API token made-by-token/ }).waitFor();
        assert.equal(await page.title(), `API token made-by-token · ${ORG} · Chainloop`);
        const facts = page.getByTestId('token-facts');
        assert.equal(await facts.getByTestId('token-created-by').innerText(), 'API token maker');
        assert.match(await facts.getByTestId('token-scope').innerText(), /project app/);
        assert.deepEqual(await facts.getByTestId('token-permissions').locator('li').allInnerTexts(),
            tokens['made-by-token'].permissions);
        assert.match(await facts.getByTestId('token-expires').innerText(), /GMT\+9.*in 20 days/);
        await page.getByTestId('token-events').locator('tr[data-action="api_token.created"]').waitFor();
        await expectNoAxeViolations(page, 'token details');
        await page.goto(`${stack.baseUrl}/api-tokens/${tokens['made-by-ci'].id}`);
        const ci = tokens['made-by-ci'].created_by;
        assert.equal(ci.kind, 'federated', JSON.stringify(ci));
        await facts.getByText(`CI identity ${ci.name || ci.id}`, { exact: true }).waitFor();

        // A person's project token, revoked from its page.
        await page.goto(`${stack.baseUrl}/api-tokens/${tokens.soon.id}`);
        await page.getByRole('heading', { name: /API token soon/ }).waitFor();
        const by = tokens.soon.created_by;
        assert.equal(by.kind, 'user');
        assert.equal(await facts.getByTestId('token-created-by').innerText(), `person ${by.name || by.id}`);
        assert.match(await facts.getByTestId('token-scope').innerText(), new RegExp(`organization ${ORG}`));
        await facts.getByText('⚠ expires within 7 days').waitFor();
        await screenshot(page, 'token-details');
        await page.getByRole('button', { name: 'Revoke token' }).click();
        const confirm = page.getByRole('dialog', { name: 'Revoke API token' });
        await confirm.getByRole('button', { name: 'Revoke token' }).click();
        await page.getByText('API token soon revoked.').waitFor();
        const events0 = await asOwner('GET', '/audit-events?limit=1000');
        const revocation = events0.body.audit_events.find((e) => e.action === 'api_token.revoked' &&
            e.target_id === tokens.soon.id);
        assert.ok(revocation, JSON.stringify(events0.body));
        const revoked = facts.getByTestId('token-revoked');
        await revoked.getByText(`by person ${revocation.actor_name}`).waitFor();
        assert.match(await revoked.innerText(), /manual/);
        assert.equal(await facts.getByTestId('token-state').innerText(), 'Revoked');
        assert.equal(await page.getByRole('button', { name: 'Revoke token' }).count(), 0);
        const events = page.getByTestId('token-events');
        await events.locator('tr[data-action="api_token.revoked"]').waitFor();
        const actions = await events.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.action));
        assert.deepEqual(actions, ['api_token.revoked', 'api_token.created'], 'only this token\'s events, newest first');
        await expectNoAxeViolations(page, 'revoked token details');

        // An expired token: shown as expired, no auto-revoke date.
        await page.goto(`${stack.baseUrl}/api-tokens/${tokens.short.id}`);
        await page.getByRole('heading', { name: /API token short/ }).waitFor();
        assert.equal(await facts.getByTestId('token-state').innerText(), 'Expired');
        assert.equal(await facts.getByText('Auto revoke').count(), 0);
        assert.match(await facts.getByTestId('token-expires').innerText(), /ago/);

        await page.goto(`${stack.baseUrl}/api-tokens/no-such-token`);
        await page.getByText('API token not found').waitFor();
        await expectNoAxeViolations(page, 'unknown token');
      });

  test('token details: audit events page by page with "Load more"', T, async () => {
    const p = await context.newPage();
    try {
      const seen = await smallPages(p, `/organizations/${ORG}/audit-events`, 1);
      await p.goto(`${stack.baseUrl}/api-tokens/${tokens.soon.id}`);
      const rows = p.getByTestId('token-events').locator('tbody tr');
      await rows.first().waitFor();
      const listing = seen.filter((u) => !u.searchParams.has('action'));
      assert.ok(listing.every((u) => u.searchParams.get('target_id') === tokens.soon.id), listing.join('\n'));
      assert.equal(await rows.count(), 1);
      await p.getByRole('button', { name: 'Load more' }).click();
      await rows.nth(1).waitFor();
      const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.action));
      assert.deepEqual(actions, ['api_token.revoked', 'api_token.created']);
      assert.ok(seen.some((u) => u.searchParams.has('cursor')), seen.join('\n'));
      // A full page may still carry a cursor; the page after the last row has none.
      const more = p.getByRole('button', { name: 'Load more' });
      if (await more.count()) {
        await more.click();
        await more.waitFor({ state: 'detached' });
      }
      assert.equal(await rows.count(), 2);
      await expectNoAxeViolations(p, 'token details, more events');
    } finally {
      await p.close();
    }
  });

  test('token details on a phone', T, async () => {
    const phone = await browser.newContext({ viewport: PHONE, ...ZONE });
    try {
      await phone.addCookies(await context.cookies(stack.baseUrl));
      const p = await phone.newPage();
      await p.goto(`${stack.baseUrl}/api-tokens/${tokens['made-by-token'].id}`);
      await p.getByTestId('token-events').waitFor();
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `no horizontal scrolling (page is ${width}px wide)`);
      await expectNoAxeViolations(p, 'token details on a phone');
      await screenshot(p, 'token-details-phone');
    } finally {
      await phone.close();
    }
  });

  test('every page has its own title', T, async () => {
    for (const [path, title] of [
      ['/api-tokens', 'API tokens'],
      ['/api-tokens?status=expired', 'API tokens'],
      ['/members', 'Members'],
      ['/audit', 'Audit log'],
      ['/settings?tab=api-tokens', 'Settings'],
      ['/nowhere', 'Page not found'],
    ]) {
      await page.goto(`${stack.baseUrl}${path}`);
      await page.locator('main h1, main .state-title').first().waitFor();
      await page.waitForFunction((t) => document.title === t, `${title} · ${ORG} · Chainloop`);
    }
    // Following an in-app link updates it too.
    await page.getByRole('link', { name: 'Go to API tokens' }).click();
    await page.waitForFunction((t) => document.title === t, `API tokens · ${ORG} · Chainloop`);
  });

  test('a viewer sees no token controls and is refused when forging them', T, async () => {
    const viewer = await browser.newContext({ viewport: LAPTOP, ...ZONE });
    try {
      const p = await viewer.newPage();
      await loginInBrowser(p, stack.baseUrl, 'vic.viewer');
      assert.equal(await p.getByTestId('current-role').innerText(), 'viewer');
      await p.getByText('it does not let you see or manage API tokens').waitFor();
      assert.equal(await p.getByRole('button', { name: 'Create token' }).count(), 0);
      assert.equal(await p.getByRole('button', { name: /Revoke/ }).count(), 0);
      await expectNoAxeViolations(p, 'viewer: API tokens');
      await p.goto(`${stack.baseUrl}/api-tokens/${tokens['long-lived'].id}`);
      await p.getByText('it does not let you see or manage API tokens').waitFor();
      assert.equal(await p.getByRole('button', { name: /Revoke/ }).count(), 0);
      assert.equal(await p.getByText('long-lived').count(), 0);
      await expectNoAxeViolations(p, 'viewer: token details');
      const forged = await pageFetch(p, 'POST',
          `/v1/organizations/${ORG}/api-tokens/${tokens['long-lived'].id}/revoke`, {});
      assert.equal(forged.status, 403, JSON.stringify(forged));
      assert.equal(forged.body?.error?.code, 'permission_denied');
      assert.ok((await listed('active')).some((t) => t.name === 'long-lived'), 'still active');
    } finally {
      await viewer.close();
    }
  });
});
