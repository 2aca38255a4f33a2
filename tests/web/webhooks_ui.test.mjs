// End to end in a real browser: Settings → Webhooks. An owner creates a webhook for a loopback
// receiver (the instance allows 127.0.0.1 explicitly), sees its secret once and never again,
// sends a test event that the receiver gets signed with that secret, reads the delivery log
// (delivered, then a failed attempt against a receiver answering 500), and deletes the webhook
// after a confirmation. The server's validation messages are shown as it words them. A viewer sees
// no webhook controls and is refused when forging the requests. axe-core finds no violation on the
// page and its dialogs; screenshots at laptop and phone size.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { eventually as until, missingPrerequisite, show, startStack } from '../e2e/harness.mjs';
import {
  expectNoAxeViolations, launchBrowser, loginInBrowser, missingBrowserPrerequisite, newContext,
  pageFetch as call, screenshot, webDist,
} from './browser.mjs';

const skip = missingPrerequisite({ needDriver: false }) || (await missingBrowserPrerequisite());
const ORG = 'hook-org';
const T = { timeout: 180_000 };
const PHONE = { width: 375, height: 667 };

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}


// A loopback receiver that records every request; `status` is what it answers next.
async function startReceiver() {
  const received = [];
  const rx = { received, status: 200 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(rx.status, { 'Content-Type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  rx.url = (path) => `http://127.0.0.1:${server.address().port}${path}`;
  rx.close = () => new Promise((resolve) => server.close(resolve));
  return rx;
}


describe('web UI: webhooks', { skip }, () => {
  let stack;
  let owner;
  let browser;
  let context;
  let page;
  let rx;
  const extra = [];

  before(async () => {
    rx = await startReceiver();
    stack = await startStack({
      extraArgs: ['--web-dir', webDist, '--webhook-allowed-networks', '127.0.0.1/32',
        '--webhook-poll-interval', '100ms', '--webhook-retry-initial-delay', '1h'],
    });
    owner = stack.newUser('wanda.owner');
    await owner.login();
    ok(await owner.run(['organization', 'create', '--name', ORG]));
    ok(await owner.run(['organization', 'set', '--name', ORG]));
    ok(await owner.run(['organization', 'invitation', 'create', '--receiver', 'vic.viewer@example.com',
      '--role', 'viewer']));
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
    await loginInBrowser(page, stack.baseUrl, owner.account);
  });

  after(async () => {
    for (const c of extra) await c.close().catch(() => {});
    await browser?.close();
    await stack?.cleanup();
    await rx?.close();
  });

  test('create shows the secret once; a test event arrives signed with it; the log shows it', T, async () => {
    await page.goto(`${stack.baseUrl}/settings?tab=webhooks`);
    await page.getByText('No webhooks').waitFor();
    assert.match(await page.title(), /Settings/);
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.waitFor();
    // Focus starts in the URL field.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'url');
    await dialog.getByRole('checkbox', { name: /token\.revoked/ }).waitFor();
    await expectNoAxeViolations(page, 'new webhook dialog');
    await screenshot(page, 'webhook-create');

    // The server's own message for a URL it refuses.
    await dialog.getByLabel('Payload URL').fill('ftp://127.0.0.1/hook');
    await dialog.getByRole('checkbox', { name: /token\.revoked/ }).check();
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    const refused = await call(page, 'POST', `/v1/organizations/${ORG}/webhooks`,
      { url: 'ftp://127.0.0.1/hook', events: ['token.revoked'] });
    assert.equal(refused.status, 400, JSON.stringify(refused));
    await dialog.getByRole('alert').filter({ hasText: refused.body.error.message }).waitFor();

    await dialog.getByLabel('Payload URL').fill(rx.url('/hook'));
    await dialog.getByLabel('Description (optional)').fill('security channel');
    await dialog.getByRole('checkbox', { name: /token\.created/ }).check();
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    const shown = page.getByRole('dialog', { name: 'Webhook created' });
    await shown.waitFor();
    const secret = await shown.getByLabel('Secret').inputValue();
    assert.match(secret, /^clwhsec_[A-Za-z0-9_-]{43}$/);
    await expectNoAxeViolations(page, 'webhook secret dialog');
    await shown.getByRole('button', { name: 'I have copied it, close' }).click();

    const item = page.locator(`li[data-webhook="${rx.url('/hook')}"]`);
    await item.waitFor();
    assert.match(await item.innerText(), /token\.created/);
    assert.match(await item.innerText(), /token\.revoked/);
    assert.match(await item.innerText(), /security channel/);
    // Never shown again, and not in the API's answers either.
    assert.ok(!(await page.content()).includes(secret));
    const listed = await call(page, 'GET', `/v1/organizations/${ORG}/webhooks`);
    assert.equal(listed.status, 200);
    assert.ok(!JSON.stringify(listed.body).includes(secret));

    await item.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event sent' }).waitFor();
    const ping = await until('the test event', () => rx.received.find((r) => r.headers['x-chainloop-event'] === 'ping'));
    const expected = 'sha256=' + createHmac('sha256', secret).update(ping.body).digest('hex');
    assert.equal(ping.headers['x-chainloop-signature-256'], expected);
    const body = JSON.parse(ping.body.toString('utf8'));
    assert.equal(body.event, 'ping');
    assert.equal(body.organization.name, ORG);
    assert.equal(ping.headers['x-chainloop-event-id'], body.id);

    // The log shows it delivered (the page reads it when the section is opened).
    await until('the delivery to be recorded', async () => {
      const r = await call(page, 'GET', `/v1/organizations/${ORG}/webhooks/${listed.body.webhooks[0].id}/deliveries`);
      return r.body.deliveries?.some((d) => d.event === 'ping' && d.status === 'delivered');
    });
    await item.getByText('Deliveries').click();
    const row = item.locator('tr[data-event="ping"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'delivered');
    assert.match(await row.innerText(), /HTTP 200/);
    await screenshot(page, 'webhooks');
    await expectNoAxeViolations(page, 'webhooks');
  });

  test('a token event that the receiver refuses is logged as a failed attempt with its status', T, async () => {
    rx.status = 500;
    ok(await owner.run(['organization', 'api-token', 'create', '--name', 'hooked']));
    const listed = await call(page, 'GET', `/v1/organizations/${ORG}/webhooks`);
    const id = listed.body.webhooks[0].id;
    const d = await until('a failed attempt', async () => {
      const r = await call(page, 'GET', `/v1/organizations/${ORG}/webhooks/${id}/deliveries`);
      return r.body.deliveries?.find((x) => x.event === 'token.created' && x.attempts >= 1);
    });
    assert.equal(d.status, 'pending'); // retried later (in an hour here)
    assert.equal(d.response_status, 500);
    assert.ok(d.next_attempt_at);
    rx.status = 200;

    await page.reload();
    const item = page.locator(`li[data-webhook="${rx.url('/hook')}"]`);
    await item.getByText('Deliveries').click();
    const row = item.locator('tr[data-event="token.created"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'pending');
    assert.match(await row.innerText(), /HTTP 500/);
    assert.match(await row.innerText(), /next try/);
  });

  test('on a phone the page and the dialog fit the screen', T, async () => {
    const c = await newContext(browser, { viewport: PHONE });
    extra.push(c);
    const p = await c.newPage();
    await loginInBrowser(p, stack.baseUrl, owner.account);
    await p.goto(`${stack.baseUrl}/settings?tab=webhooks`);
    await p.locator('li[data-webhook]').first().waitFor();
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no horizontal scrolling on a phone (page is ${width}px wide)`);
    await screenshot(p, 'webhooks-phone');
    await p.getByRole('button', { name: 'New webhook' }).click();
    const create = p.getByRole('button', { name: 'Create webhook' });
    await create.waitFor();
    assert.ok(await create.isVisible());
    const box = await create.boundingBox();
    assert.ok(box && box.y + box.height <= PHONE.height, 'the dialog\'s buttons stay on screen');
  });

  test('delete after a confirmation', T, async () => {
    await page.goto(`${stack.baseUrl}/settings?tab=webhooks`);
    const item = page.locator(`li[data-webhook="${rx.url('/hook')}"]`);
    await item.getByRole('button', { name: `Delete webhook ${rx.url('/hook')}` }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete this webhook?' });
    await confirm.waitFor();
    await expectNoAxeViolations(page, 'delete webhook dialog');
    await confirm.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('status').filter({ hasText: 'deleted' }).waitFor();
    await page.getByText('No webhooks').waitFor();
    const listed = await call(page, 'GET', `/v1/organizations/${ORG}/webhooks`);
    assert.deepEqual(listed.body.webhooks, []);
  });

  test('a viewer sees no webhook controls and is refused when forging the requests', T, async () => {
    const c = await newContext(browser);
    extra.push(c);
    const p = await c.newPage();
    await loginInBrowser(p, stack.baseUrl, 'vic.viewer'); // accepts the invitation
    await p.goto(`${stack.baseUrl}/settings?tab=webhooks`);
    await p.getByText('Your role does not let you see or manage webhooks.').waitFor();
    assert.equal(await p.getByRole('button', { name: 'New webhook' }).count(), 0);
    const forged = await call(p, 'POST', `/v1/organizations/${ORG}/webhooks`,
      { url: rx.url('/viewer'), events: ['token.created'] });
    assert.equal(forged.status, 403, JSON.stringify(forged));
    assert.equal((await call(p, 'GET', `/v1/organizations/${ORG}/webhooks`)).status, 403);
    await expectNoAxeViolations(p, 'webhooks as a viewer');
  });
});
