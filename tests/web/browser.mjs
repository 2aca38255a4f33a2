// Browser plumbing for the web UI tests: Debian's Chromium driven by playwright-core (never a
// downloaded browser), logging in through the control plane's /auth/web/login and the
// development IdP's own login and consent forms, screenshots for docs/screenshots/ and the
// axe-core accessibility check.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { repoRoot } from '../e2e/harness.mjs';

export const chromiumPath = process.env.CL_CHROMIUM || '/usr/bin/chromium';
export const webDist = join(repoRoot, 'web', 'dist');
export const screenshotDir = join(repoRoot, 'docs', 'screenshots');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

// Why the browser tests cannot run here, or false.
export async function missingBrowserPrerequisite() {
  if (!existsSync(chromiumPath)) return `Chromium not found at ${chromiumPath} (apt-get install chromium)`;
  if (!existsSync(join(webDist, 'index.html'))) return `web UI not built: run npm ci && npm run build in web/`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core not installed: run npm ci in tests/web/';
  }
  return false;
}

// Launches Chromium with a fresh profile (playwright gives each launch a new user data dir).
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
}

// A fresh, isolated browser context (own cookies) with a laptop-sized window. Records console
// messages and page errors, so tests can assert that the CSP blocked nothing.
export async function newContext(browser, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport });
  context.problems = [];
  context.on('page', (page) => watch(page, context.problems));
  return context;
}

function watch(page, problems) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(text);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
}

// Logs `account` in from the UI's login page: "Log in" -> /auth/web/login -> the development
// IdP's login form (and consent when asked) -> back on the control plane, signed in.
export async function loginInBrowser(page, baseUrl, account) {
  await page.goto(`${baseUrl}/`);
  await page.getByRole('link', { name: 'Log in' }).click();
  const base = new URL(baseUrl);
  for (let step = 0; step < 8; step++) {
    await page.waitForLoadState('domcontentloaded');
    const here = new URL(page.url());
    if (here.origin === base.origin && !here.pathname.startsWith('/auth/')) break;
    const login = page.locator('input[name="login"]');
    if (await login.count()) {
      await login.fill(account);
      await page.locator('input[name="password"]').fill('any-password');
      await Promise.all([page.waitForNavigation(), page.locator('form button[type="submit"], form [type="submit"]').first().click()]);
      continue;
    }
    const consent = page.locator('form input[name="prompt"][value="consent"]');
    if (await consent.count()) {
      await Promise.all([page.waitForNavigation(), page.locator('form [type="submit"]').first().click()]);
      continue;
    }
    await page.waitForTimeout(250);
  }
  await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 15_000 });
}

// Saves a screenshot of the page to docs/screenshots/NAME.png; `mask` hides secrets.
export async function screenshot(page, name, { mask = [], fullPage = true } = {}) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage, mask, animations: 'disabled' });
}

// Runs axe-core (the npm package pinned in package.json) on the page as it is now, open dialogs
// included, and throws listing every violation: rule, impact, help and the offending elements.
// axe is evaluated through the DevTools protocol, which the page's CSP does not govern (a
// <script> tag would be refused, rightly).
export async function expectNoAxeViolations(page, what = page.url()) {
  const { source } = createRequire(import.meta.url)('axe-core');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  if (violations.length > 0) {
    const lines = violations.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`);
    throw new Error(`axe-core: ${violations.length} violation(s) on ${what}\n${lines.join('\n')}`);
  }
}

// A request from the page's own session (its cookie), with the CSRF header the UI sends: what a
// person could forge from the browser. Resolves with {status, body (parsed JSON or null), hadCsrf}.
export function pageFetch(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const csrf = document.cookie.split('; ').find((c) => c.startsWith('cl_csrf='))?.slice(8) ?? '';
    const headers = { 'X-CSRF-Token': decodeURIComponent(csrf), Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method, credentials: 'same-origin', headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null, hadCsrf: csrf.length > 0 };
  }, [method, path, body]);
}
