// End to end in a real browser: the administration pages of the web UI. Members (change a role,
// remove after a confirmation, the last owner protected, an admin refused on an owner, each
// refusal shown as the server words it), pending invitations cancelled, the audit log (pages
// through "Load more", filters by action, actor and dates, token events linked to the token),
// CI trust policies (create with bound claims, the server's validation messages, the CI snippet
// and its copy button, delete after a confirmation), and a viewer who sees none of the write
// controls and is refused when forging the requests. axe-core finds no violation on any of these
// pages and dialogs. Saves screenshots at laptop and phone size.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { missingPrerequisite, repoRoot, show, startStack } from '../e2e/harness.mjs';
import {
  expectNoAxeViolations, launchBrowser, loginInBrowser, missingBrowserPrerequisite, newContext,
  pageFetch as call, screenshot, webDist,
} from './browser.mjs';

const skip = missingPrerequisite({ needDriver: false }) || (await missingBrowserPrerequisite());
const ORG = 'admin-org';
const T = { timeout: 180_000 };
const GITLAB = 'https://gitlab.com';
const GITHUB = 'https://token.actions.githubusercontent.com';
const PHONE = { width: 375, height: 667 };

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}


const org = (rest = '') => `/v1/organizations/${ORG}${rest}`;

// The wire names of every audited action, from the server's one table.
function serverAuditActions() {
  const source = readFileSync(join(repoRoot, 'domain', 'audit_events.cc'), 'utf8');
  return [...source.matchAll(/\{AuditAction::k\w+, "([a-z_.]+)"\}/g)].map((m) => m[1]);
}

// yyyy-mm-dd of the local day `days` from today (the browser runs in the same time zone).
function localDay(days) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

describe('web UI administration', { skip }, () => {
  let stack;
  let owner; // CLI user with the browser owner's IdP account
  let browser;
  let context;
  let page;
  let adminPage;
  const extra = []; // other browser contexts

  async function signIn(account, viewport) {
    const c = await newContext(browser, viewport ? { viewport } : {});
    extra.push(c);
    const p = await c.newPage();
    await loginInBrowser(p, stack.baseUrl, account);
    return p;
  }

  async function members() {
    const r = await call(page, 'GET', org('/members'));
    assert.equal(r.status, 200, JSON.stringify(r));
    return Object.fromEntries(r.body.members.map((m) => [m.email, m]));
  }

  before(async () => {
    stack = await startStack({ extraArgs: ['--web-dir', webDist, '--federation-issuers', `${GITLAB},${GITHUB}`] });
    owner = stack.newUser('olivia.owner');
    await owner.login();
    for (const args of [
      ['organization', 'create', '--name', ORG],
      ['organization', 'set', '--name', ORG],
      ['project', 'create', '--name', 'app'],
    ]) {
      ok(await owner.run(args));
    }
    for (const [email, role] of [['adam.admin@example.com', 'admin'], ['victor.viewer@example.com', 'viewer'],
      ['mia.member@example.com', 'member'], ['carol@example.com', 'member'], ['dave@example.com', 'owner']]) {
      ok(await owner.run(['organization', 'invitation', 'create', '--receiver', email, '--role', role]));
    }
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
    await loginInBrowser(page, stack.baseUrl, owner.account);
    adminPage = await signIn('adam.admin'); // accepts the invitation
    await signIn('mia.member');
  });

  after(async () => {
    await browser?.close();
    await stack?.cleanup();
  });

  test('an owner changes a member\'s role from the members table', T, async () => {
    await page.goto(`${stack.baseUrl}/members`);
    const role = page.getByLabel('Role of adam.admin@example.com');
    await role.waitFor();
    assert.equal(await role.inputValue(), 'admin');
    await role.selectOption('member');
    await page.getByRole('status').filter({ hasText: 'adam.admin@example.com is now member.' }).waitFor();
    assert.equal((await members())['adam.admin@example.com'].role, 'member');
    await page.getByLabel('Role of adam.admin@example.com').selectOption('admin');
    await page.getByText('adam.admin@example.com is now admin.').waitFor();
    assert.equal((await members())['adam.admin@example.com'].role, 'admin');
    assert.equal(await page.getByLabel('Role of adam.admin@example.com').inputValue(), 'admin');
  });

  test('the last owner can neither be demoted nor leave: the server\'s 409 is shown', T, async () => {
    const me = (await members())['olivia.owner@example.com'];
    const refused = await call(page, 'PATCH', org(`/members/${me.user_id}`), { role: 'admin' });
    assert.equal(refused.status, 409, JSON.stringify(refused));
    assert.equal(refused.body.error.code, 'last_owner');

    await page.getByLabel('Role of olivia.owner@example.com').selectOption('admin');
    const alert = page.getByRole('alert').filter({ hasText: 'olivia.owner@example.com was not changed' });
    await alert.waitFor();
    assert.equal(await alert.innerText(),
        `The role of olivia.owner@example.com was not changed: ${refused.body.error.message}`);
    assert.equal(await page.getByLabel('Role of olivia.owner@example.com').inputValue(), 'owner');

    await page.getByRole('button', { name: `Leave ${ORG}` }).click();
    const dialog = page.getByRole('dialog', { name: `Leave ${ORG}?` });
    await dialog.getByRole('button', { name: 'Leave organization' }).click();
    await dialog.getByRole('alert').filter({ hasText: refused.body.error.message }).waitFor();
    await dialog.getByRole('button', { name: 'Keep' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await members())['olivia.owner@example.com'].role, 'owner');
  });

  test('an admin sees the controls but the server refuses changes to an owner', T, async () => {
    await adminPage.goto(`${stack.baseUrl}/members`);
    const ownerRole = adminPage.getByLabel('Role of olivia.owner@example.com');
    await ownerRole.waitFor();
    const me = (await members())['olivia.owner@example.com'];
    const refused = await call(adminPage, 'PATCH', org(`/members/${me.user_id}`), { role: 'viewer' });
    assert.equal(refused.status, 403, JSON.stringify(refused));
    await ownerRole.selectOption('viewer');
    await adminPage.getByRole('alert').filter({ hasText: refused.body.error.message }).waitFor();

    await adminPage.getByRole('button', { name: 'Remove olivia.owner@example.com' }).click();
    const dialog = adminPage.getByRole('dialog', { name: 'Remove olivia.owner@example.com?' });
    await dialog.getByRole('button', { name: 'Remove member' }).click();
    await dialog.getByRole('alert').waitFor();
    assert.match(await dialog.getByRole('alert').innerText(), /owner/i);
    await dialog.getByRole('button', { name: 'Keep' }).click();
    assert.equal((await members())['olivia.owner@example.com'].role, 'owner');
  });

  test('removing a member asks first; "Keep" keeps them', T, async () => {
    await page.goto(`${stack.baseUrl}/members`);
    const remove = page.getByRole('button', { name: 'Remove mia.member@example.com' });
    await remove.click();
    const dialog = page.getByRole('dialog', { name: 'Remove mia.member@example.com?' });
    await dialog.waitFor();
    await screenshot(page, 'members-remove-confirm');
    await expectNoAxeViolations(page, 'members-remove-confirm');
    await dialog.getByRole('button', { name: 'Keep' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.ok((await members())['mia.member@example.com'], 'still a member after "Keep"');

    await remove.click();
    await dialog.getByRole('button', { name: 'Remove member' }).click();
    await page.getByText(`mia.member@example.com was removed from ${ORG}.`).waitFor();
    await page.locator('tr[data-member="mia.member@example.com"]').waitFor({ state: 'detached' });
    assert.equal((await members())['mia.member@example.com'], undefined);
  });

  test('pending invitations are listed and cancelled after a confirmation', T, async () => {
    const row = page.locator('tr[data-invitation="carol@example.com"]');
    await row.waitFor();
    await page.locator('tr[data-invitation="dave@example.com"]').waitFor();
    // Accepted invitations are no longer pending.
    assert.equal(await page.locator('tr[data-invitation="adam.admin@example.com"]').count(), 0);
    await page.getByRole('button', { name: 'Cancel the invitation of carol@example.com' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel the invitation of carol@example.com?' });
    await dialog.getByRole('button', { name: 'Cancel invitation' }).click();
    await page.getByText('The invitation of carol@example.com was cancelled.').waitFor();
    await row.waitFor({ state: 'detached' });
    const left = await call(page, 'GET', org('/invitations'));
    assert.deepEqual(left.body.invitations.map((i) => i.email).sort(),
        ['dave@example.com', 'victor.viewer@example.com']);
    await screenshot(page, 'members');
    await expectNoAxeViolations(page, 'members');
    const phone = await newContext(browser, { viewport: PHONE });
    extra.push(phone);
    await phone.addCookies(await context.cookies(stack.baseUrl));
    const p = await phone.newPage();
    await p.goto(`${stack.baseUrl}/members`);
    await p.locator('tr[data-invitation="dave@example.com"]').waitFor();
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no horizontal scrolling on a phone (page is ${width}px wide)`);
    await screenshot(p, 'members-phone');
    await expectNoAxeViolations(p, 'members-phone');
  });

  test('CI trust policies: create with bound claims, snippet, copy, delete', T, async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.baseUrl });
    await page.goto(`${stack.baseUrl}/settings?tab=ci`);
    await page.getByText('No trust policies').waitFor();
    await page.getByRole('button', { name: 'New trust policy' }).click();
    const dialog = page.getByRole('dialog', { name: 'New trust policy' });
    await dialog.getByLabel('Name', { exact: true }).fill('gitlab-app');
    // The issuer comes from the instance's allow-list, as the server reports it.
    const offered = await dialog.getByLabel('Issuer').locator('option').evaluateAll(
        (options) => options.map((o) => o.value).filter((v) => v !== ''));
    assert.deepEqual(offered, [GITLAB, GITHUB]);
    await dialog.getByLabel('Issuer').selectOption(GITLAB);
    await dialog.getByLabel('Audience').fill('chainloop');
    await dialog.getByLabel('Claim 1 name').fill('project_id');
    await dialog.getByLabel('Claim 1 value').fill('4242');
    await dialog.getByRole('button', { name: 'Add claim' }).click();
    await dialog.getByLabel('Claim 2 name').fill('ref');
    await dialog.getByLabel('Claim 2 value').fill('main');
    await dialog.getByLabel('Project', { exact: true }).selectOption('app');
    await dialog.getByLabel('Max token age (minutes)').fill('120');
    await dialog.getByLabel('workflow_run:read').uncheck();
    await screenshot(page, 'trust-policy-dialog');
    await expectNoAxeViolations(page, 'trust-policy-dialog');
    await dialog.getByRole('button', { name: 'Create policy' }).click();
    await page.getByText('Trust policy gitlab-app created.').waitFor();

    const listed = await call(page, 'GET', org('/federation-policies'));
    assert.equal(listed.body.policies.length, 1, JSON.stringify(listed));
    const policy = listed.body.policies[0];
    assert.equal(policy.issuer, GITLAB);
    assert.equal(policy.provider, 'gitlab');
    assert.equal(policy.audience, 'chainloop');
    assert.deepEqual(policy.bound_claims, { project_id: '4242', ref: 'main' });
    assert.equal(policy.project, 'app');
    assert.equal(policy.max_token_age_seconds, 7200);
    assert.ok(!policy.permissions.includes('workflow_run:read'), policy.permissions.join(','));
    assert.ok(policy.permissions.includes('workflow_run:create'), policy.permissions.join(','));

    const item = page.locator('li[data-policy="gitlab-app"]');
    await item.getByText('CI configuration (.gitlab-ci.yml)').click();
    const expected = [
      'attest:',
      '  id_tokens:',
      '    GITLAB_OIDC:',
      '      aud: chainloop',
      '  variables:',
      `    CHAINLOOP_CONTROL_PLANE_API: ${stack.baseUrl}`,
      '  timeout: 2h    # at most the policy\'s max token age',
      '  script:',
      `    - chainloop attestation init --org ${ORG} --workflow build --project app`,
      `    - chainloop attestation push --org ${ORG} --statement statement.json`,
      '',
    ].join('\n');
    assert.equal(await item.getByTestId('ci-snippet').textContent(), expected);
    await item.getByRole('button', { name: 'Copy .gitlab-ci.yml' }).click();
    await item.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), expected);
    await screenshot(page, 'settings-ci');
    await expectNoAxeViolations(page, 'settings-ci');

    // A GitHub policy (provider from the issuer) gets the workflow, with id-token: write.
    const github = await call(page, 'POST', org('/federation-policies'),
        { name: 'github-app', issuer: GITHUB, bound_claims: { repository_id: '123456' } });
    assert.equal(github.status, 201, JSON.stringify(github));
    await page.reload();
    const gh = page.locator('li[data-policy="github-app"]');
    await gh.getByText('CI configuration (.github/workflows/attest.yml)').click();
    const workflow = await gh.getByTestId('ci-snippet').textContent();
    assert.match(workflow, /^ {6}id-token: write/m);
    assert.match(workflow, new RegExp(`CHAINLOOP_CONTROL_PLANE_API: ${stack.baseUrl}\\n`));
    assert.match(workflow, new RegExp(`- run: chainloop attestation init --org ${ORG} --workflow build --project PROJECT\\n`));
    const phone = await newContext(browser, { viewport: PHONE });
    extra.push(phone);
    await phone.addCookies(await context.cookies(stack.baseUrl));
    const p = await phone.newPage();
    await p.goto(`${stack.baseUrl}/settings?tab=ci`);
    await p.locator('li[data-policy="gitlab-app"]').waitFor();
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no horizontal scrolling on a phone (page is ${width}px wide)`);
    await screenshot(p, 'settings-ci-phone');
    await expectNoAxeViolations(p, 'settings-ci-phone');

    await gh.getByRole('button', { name: 'Delete github-app' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete the trust policy github-app?' });
    await confirm.getByRole('button', { name: 'Keep' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal((await call(page, 'GET', org('/federation-policies'))).body.policies.length, 2);
    await gh.getByRole('button', { name: 'Delete github-app' }).click();
    await confirm.getByRole('button', { name: 'Delete policy' }).click();
    await page.getByText('Trust policy github-app deleted.').waitFor();
    await gh.waitFor({ state: 'detached' });
    const left = await call(page, 'GET', org('/federation-policies'));
    assert.deepEqual(left.body.policies.map((x) => x.name), ['gitlab-app']);
  });

  test('trust policy validation: the server\'s messages are shown as is', T, async () => {
    const cases = [
      // [what, body sent directly, how to fill the dialog]
      ['untrusted issuer', { name: 'evil', issuer: 'https://ci.evil.example', bound_claims: { project_id: '1' } }],
      ['no repository claim', { name: 'loose', issuer: GITLAB, bound_claims: { ref: 'main' } }],
      ['wildcard owner', { name: 'wild', issuer: GITLAB, bound_claims: { project_path: '*/app' } }],
      ['taken name', { name: 'gitlab-app', issuer: GITLAB, bound_claims: { project_id: '7' } }],
    ];
    await page.goto(`${stack.baseUrl}/settings?tab=ci`);
    for (const [what, body] of cases) {
      const direct = await call(page, 'POST', org('/federation-policies'), body);
      assert.ok(direct.status === 400 || direct.status === 409, `${what}: ${JSON.stringify(direct)}`);
      // The dialog offers only the allowed issuers: an untrusted one is refused by the server
      // (above) and cannot be chosen in the page.
      if (what === 'untrusted issuer') continue;
      await page.getByRole('button', { name: 'New trust policy' }).click();
      const dialog = page.getByRole('dialog', { name: 'New trust policy' });
      await dialog.getByLabel('Name', { exact: true }).fill(body.name);
      await dialog.getByLabel('Issuer').selectOption(body.issuer);
      const [[claim, value]] = Object.entries(body.bound_claims);
      await dialog.getByLabel('Claim 1 name').fill(claim);
      await dialog.getByLabel('Claim 1 value').fill(value);
      await dialog.getByRole('button', { name: 'Create policy' }).click();
      const error = dialog.getByTestId('policy-error');
      await error.waitFor();
      assert.equal(await error.innerText(), direct.body.error.message, what);
      if (what === 'no repository claim') {
        await screenshot(page, 'trust-policy-error');
        await expectNoAxeViolations(page, 'trust policy dialog with an error');
      }
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
    }
    const left = await call(page, 'GET', org('/federation-policies'));
    assert.deepEqual(left.body.policies.map((x) => x.name), ['gitlab-app']);
  });

  test('audit log: "Load more" pages through next_cursor without gaps or repeats', T, async () => {
    for (let i = 1; i <= 60; i++) {
      const r = await call(page, 'PATCH', org(), { api_token_max_days_inactive: (i % 300) + 1 });
      assert.equal(r.status, 200, JSON.stringify(r));
    }
    await page.goto(`${stack.baseUrl}/audit`);
    const rows = page.locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 50, 'the first page');
    const more = page.getByRole('button', { name: 'Load more' });
    await more.waitFor();
    await screenshot(page, 'audit', { fullPage: false });
    await expectNoAxeViolations(page, 'audit');
    let pages = 1;
    while (await more.count()) {
      const before = await rows.count();
      await more.click();
      await page.waitForFunction((n) => document.querySelectorAll('tbody tr').length > n, before);
      pages++;
    }
    await page.getByText(/events, all shown\./).waitFor();
    const stamps = await page.locator('tbody td[data-label="When"] time')
        .evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
    const everything = [];
    let cursor = null;
    do {
      const r = await call(page, 'GET', org(`/audit-events?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`));
      assert.equal(r.status, 200, JSON.stringify(r));
      everything.push(...r.body.audit_events);
      cursor = r.body.next_cursor;
    } while (cursor);
    assert.ok(pages >= 2, `${pages} pages`);
    assert.equal(stamps.length, everything.length, 'every event, once');
    assert.deepEqual(stamps, everything.map((e) => e.created_at));

    const phone = await newContext(browser, { viewport: PHONE });
    extra.push(phone);
    await phone.addCookies(await context.cookies(stack.baseUrl));
    const p = await phone.newPage();
    await p.goto(`${stack.baseUrl}/audit`);
    await p.getByRole('button', { name: 'Load more' }).waitFor();
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no horizontal scrolling on a phone (page is ${width}px wide)`);
    await screenshot(p, 'audit-phone', { fullPage: false });
    await expectNoAxeViolations(p, 'audit-phone');
  });

  test('audit log filters: action (every audited action offered), actor, dates', T, async () => {
    const select = page.getByLabel('Action');
    const offered = (await select.locator('option').allInnerTexts()).filter((o) => o !== 'All actions');
    assert.deepEqual([...offered].sort(), [...serverAuditActions()].sort());

    const apply = () => page.getByRole('button', { name: 'Apply filters' }).click();
    const column = (label) => page.locator(`tbody td[data-label="${label}"]`).allInnerTexts();
    // The column once the table shows what `ok` expects (the previous answer may still be on
    // screen right after Apply); the last reading when it never does, for the assertion.
    const settled = async (label, ok) => {
      let cells = [];
      for (const end = Date.now() + 10_000; Date.now() < end;) {
        cells = await column(label);
        if (ok(cells)) break;
        await page.waitForTimeout(100);
      }
      return cells;
    };

    await select.selectOption('member.role_changed');
    await apply();
    await page.getByText(/^\d+ events?, all shown\./).waitFor();
    const actions = await settled('Action',
        (cells) => cells.length === 2 && cells.every((a) => a === 'member.role_changed'));
    assert.equal(actions.length, 2, actions.join(',')); // adam to member and back
    assert.ok(actions.every((a) => a === 'member.role_changed'), actions.join(','));

    await select.selectOption('');
    await page.getByLabel('Actor').fill('adam.admin@example.com');
    await apply();
    await page.getByText(/^\d+ events?, all shown\./).waitFor();
    const actors = await settled('Actor',
        (cells) => cells.length >= 1 && cells.every((a) => a.startsWith('adam.admin@example.com')));
    assert.ok(actors.length >= 1 && actors.every((a) => a.startsWith('adam.admin@example.com')), actors.join('|'));
    await page.getByLabel('Actor').fill('nobody@example.com');
    await apply();
    await page.getByText('No audit events match these filters').waitFor();

    await page.getByLabel('Actor').fill('');
    await page.getByLabel('From', { exact: true }).fill(localDay(1));
    await apply();
    await page.getByText('No audit events match these filters').waitFor();
    await page.getByLabel('From', { exact: true }).fill(localDay(0));
    await page.getByLabel('To', { exact: true }).fill(localDay(0));
    await apply();
    await page.getByRole('button', { name: 'Load more' }).waitFor(); // today: everything so far
    await page.getByLabel('From', { exact: true }).fill('');
    await page.getByLabel('To', { exact: true }).fill(localDay(-1));
    await apply();
    await page.getByText('No audit events match these filters').waitFor();
    // To before From: the server refuses the range, and says why.
    await page.getByLabel('From', { exact: true }).fill(localDay(0));
    await apply();
    const refused = page.locator('.state-error');
    await refused.waitFor();
    assert.match(await refused.innerText(), /until|since/);
    await expectNoAxeViolations(page, 'audit log: refused date range');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByRole('button', { name: 'Load more' }).waitFor();
    assert.equal(await page.getByLabel('From', { exact: true }).inputValue(), '');
  });

  test('audit events about an API token link to the token', T, async () => {
    const created = JSON.parse(ok(await owner.run(['organization', 'api-token', 'create', '--name', 'audited',
      '-o', 'json'])).stdout);
    const id = created.api_token?.id ?? created.id;
    assert.ok(id, JSON.stringify(created));
    await page.goto(`${stack.baseUrl}/audit`);
    await page.getByLabel('Action').selectOption('api_token.created');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const link = page.locator(`tbody a[href="/api-tokens/${id}"]`);
    await link.waitFor();
    assert.equal(await page.locator('tbody tr').count(), 1);
    await link.click();
    assert.equal(new URL(page.url()).pathname, `/api-tokens/${id}`);
    await page.getByRole('heading', { name: /API token audited/ }).waitFor();
  });

  test('a viewer sees no write controls, and forged requests are refused', T, async () => {
    const p = await signIn('victor.viewer', PHONE);
    await p.goto(`${stack.baseUrl}/members`);
    await p.locator('tr[data-member="victor.viewer@example.com"]').waitFor();
    assert.equal(await p.getByRole('combobox', { name: /Role of/ }).count(), 0);
    assert.equal(await p.getByRole('button', { name: /Remove|Cancel the invitation/ }).count(), 0);
    await screenshot(p, 'viewer-members-phone');
    await expectNoAxeViolations(p, 'viewer-members-phone');
    await p.goto(`${stack.baseUrl}/settings?tab=ci`);
    await p.locator('li[data-policy="gitlab-app"]').waitFor();
    await p.getByText('Your role does not let you create or delete trust policies.').waitFor();
    assert.equal(await p.getByRole('button', { name: /New trust policy|Delete/ }).count(), 0);
    await expectNoAxeViolations(p, 'viewer: CI / keyless');
    await p.goto(`${stack.baseUrl}/audit`);
    await p.getByText('it does not let you read the audit log').waitFor();
    await expectNoAxeViolations(p, 'viewer: audit log');
    assert.equal(await p.getByRole('button', { name: 'Load more' }).count(), 0);

    const ids = {
      owner: (await members())['olivia.owner@example.com'].user_id,
      adam: (await members())['adam.admin@example.com'].user_id,
      invitation: (await call(page, 'GET', org('/invitations'))).body.invitations[0].id,
      policy: (await call(page, 'GET', org('/federation-policies'))).body.policies[0].id,
    };
    const forged = {
      promote: await call(p, 'PATCH', org(`/members/${ids.adam}`), { role: 'viewer' }),
      demoteOwner: await call(p, 'PATCH', org(`/members/${ids.owner}`), { role: 'viewer' }),
      remove: await call(p, 'DELETE', org(`/members/${ids.adam}`)),
      cancel: await call(p, 'DELETE', org(`/invitations/${ids.invitation}`)),
      createPolicy: await call(p, 'POST', org('/federation-policies'),
          { name: 'viewer-policy', issuer: GITLAB, bound_claims: { project_id: '9' } }),
      deletePolicy: await call(p, 'DELETE', org(`/federation-policies/${ids.policy}`)),
    };
    for (const [what, r] of Object.entries(forged)) {
      assert.equal(r.hadCsrf, true, what);
      assert.equal(r.status, 403, `${what}: ${JSON.stringify(r)}`);
      assert.equal(r.body?.error?.code, 'permission_denied', what);
    }
    const after = await members();
    assert.equal(after['adam.admin@example.com'].role, 'admin');
    assert.equal(after['olivia.owner@example.com'].role, 'owner');
    assert.equal((await call(page, 'GET', org('/invitations'))).body.invitations.length, 1);
    assert.deepEqual((await call(page, 'GET', org('/federation-policies'))).body.policies.map((x) => x.name),
        ['gitlab-app']);
    for (const c of [context, ...extra]) assert.deepEqual(c.problems, [], 'the CSP blocked nothing');
  });
});
