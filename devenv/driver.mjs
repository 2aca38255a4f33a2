// Scripted "browser" for tests: drives the development IdP's login, consent and device pages.
//
// No real browser: Node's fetch with manual redirects and a small cookie jar (cookies are kept per
// origin and path; oidc-provider scopes its interaction cookies to /interaction/<uid> and
// /auth/<uid>). Only the forms the development IdP renders are understood.
//
// Library:
//   completeBrowserLogin(startUrl, { login, password, cancel }) -> { finalUrl, status, body, reachedFinal }
//     (cancel: press the IdP's "[ Cancel ]" link instead of signing in: the IdP answers the
//     client with error=access_denied)
//   approveDevice(verificationUriComplete, { login, password }) -> { finalUrl, status, body }
// CLI:
//   node devenv/driver.mjs browser-login URL LOGIN
//   node devenv/driver.mjs approve-device URL LOGIN
import { pathToFileURL } from 'node:url';

const MAX_STEPS = 30;

// ---------------------------------------------------------------------------------------------
// Cookie jar

export class CookieJar {
  constructor() {
    // key: `${origin} ${path} ${name}` -> { origin, path, name, value, expires }
    this.cookies = new Map();
  }

  store(url, response) {
    const u = new URL(url);
    const lines =
      typeof response.headers.getSetCookie === 'function' ? response.headers.getSetCookie() : [];
    for (const line of lines) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = u.pathname.slice(0, u.pathname.lastIndexOf('/')) || '/';
      let expires = Infinity;
      for (const attr of attrs) {
        const ai = attr.indexOf('=');
        const key = (ai < 0 ? attr : attr.slice(0, ai)).trim().toLowerCase();
        const val = ai < 0 ? '' : attr.slice(ai + 1).trim();
        if (key === 'path' && val.startsWith('/')) path = val;
        if (key === 'max-age' && /^-?\d+$/.test(val)) expires = Date.now() + Number(val) * 1000;
        if (key === 'expires' && expires === Infinity) {
          const t = Date.parse(val);
          if (!Number.isNaN(t)) expires = t;
        }
      }
      const k = `${u.origin} ${path} ${name}`;
      if (expires <= Date.now()) this.cookies.delete(k);
      else this.cookies.set(k, { origin: u.origin, path, name, value, expires });
    }
  }

  header(url) {
    const u = new URL(url);
    const now = Date.now();
    const matches = [];
    for (const [k, c] of this.cookies) {
      if (c.expires <= now) {
        this.cookies.delete(k);
        continue;
      }
      if (c.origin !== u.origin) continue;
      const p = c.path;
      const pathMatches =
        u.pathname === p ||
        (u.pathname.startsWith(p) && (p.endsWith('/') || u.pathname[p.length] === '/'));
      if (pathMatches) matches.push(c);
    }
    // Longer paths first, as browsers do.
    matches.sort((a, b) => b.path.length - a.path.length);
    return matches.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

// ---------------------------------------------------------------------------------------------
// Minimal HTML form reading (enough for oidc-provider's development pages)

function decodeEntities(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/gi, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attributes(tag) {
  const out = {};
  const re = /([a-zA-Z_:.-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  let m;
  while ((m = re.exec(tag)) !== null) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

export function parseForms(html) {
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = formRe.exec(html)) !== null) {
    const attrs = attributes(m[1]);
    const fields = [];
    const inputRe = /<input\b([^>]*)>/gi;
    let im;
    while ((im = inputRe.exec(m[2])) !== null) {
      const a = attributes(im[1]);
      if (a.name) fields.push({ name: a.name, value: a.value ?? '', type: a.type ?? 'text' });
    }
    forms.push({
      id: attrs.id ?? '',
      action: attrs.action ?? '',
      method: (attrs.method ?? 'get').toLowerCase(),
      fields,
    });
  }
  return forms;
}

function titleOf(html) {
  const m = /<title>([\s\S]*?)<\/title>/i.exec(html);
  return m ? m[1].trim() : '';
}

function field(form, name) {
  return form.fields.find((f) => f.name === name);
}

// ---------------------------------------------------------------------------------------------
// Browsing engine

class Browser {
  constructor() {
    this.jar = new CookieJar();
  }

  async request(url, { method = 'GET', form } = {}) {
    const headers = { 'user-agent': 'chainloop-devenv-driver' };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.jar.store(url, res);
    if (process.env.DRIVER_DEBUG) {
      // Paths only: query strings carry codes and states.
      process.stderr.write(`driver: ${method} ${new URL(url).pathname} -> ${res.status}\n`);
    }
    const text = await res.text();
    return { status: res.status, location: res.headers.get('location'), body: text };
  }
}

// Decides what to do with an HTML page from the IdP. Returns { url, method, form } or null.
function nextActionForPage(pageUrl, html, creds) {
  if (creds.cancel) {
    const cancel = /<a href="([^"]+)">\[ Cancel \]<\/a>/.exec(html);
    if (cancel) {
      return { kind: 'cancel', url: new URL(decodeEntities(cancel[1]), pageUrl).href, method: 'GET' };
    }
  }
  for (const f of parseForms(html)) {
    const action = new URL(f.action || pageUrl, pageUrl).href;
    const values = Object.fromEntries(f.fields.map((x) => [x.name, x.value]));
    const prompt = field(f, 'prompt')?.value;
    if (prompt === 'login') {
      return {
        kind: 'login',
        url: action,
        method: 'POST',
        form: { prompt: 'login', login: creds.login, password: creds.password },
      };
    }
    if (prompt === 'consent') {
      return { kind: 'consent', url: action, method: 'POST', form: { prompt: 'consent' } };
    }
    if (f.id === 'op.deviceConfirmForm') {
      return { kind: 'device-confirm', url: action, method: 'POST', form: values };
    }
    if (f.id === 'op.deviceInputForm') {
      if (!creds.userCode) return null;
      return {
        kind: 'device-input',
        url: action,
        method: 'POST',
        form: { ...values, user_code: creds.userCode },
      };
    }
    // oidc-provider's auto-submitting form_post page ("Submitting Callback").
    if (f.method === 'post' && f.fields.every((x) => x.type === 'hidden') && f.fields.length) {
      return { kind: 'form-post', url: action, method: 'POST', form: values };
    }
  }
  return null;
}

// The last hop, to the CLI's loopback listener. If nothing listens there, status is 0 and
// `error` says why: the redirect itself was still reached.
async function finish(browser, url, options) {
  try {
    const final = await browser.request(url, options);
    return { finalUrl: url, status: final.status, body: final.body, reachedFinal: true };
  } catch (err) {
    return { finalUrl: url, status: 0, body: '', reachedFinal: true, error: String(err.cause ?? err) };
  }
}

function isAuthorizationRequest(u) {
  return u.searchParams.has('client_id') && u.searchParams.has('response_type');
}

/**
 * Follows a browser login that starts at `startUrl` (the control plane's /auth/login URL, or an
 * IdP authorization URL), signs in as `login` and keeps following redirects until one leaves both
 * the start origin and the IdP origin (the CLI's loopback listener); that URL is fetched with GET.
 *
 * Resolves { finalUrl, status, body, reachedFinal[, error] }. reachedFinal is false when some page
 * answered without a redirect or a form the driver understands (e.g. the control plane's error
 * page): then finalUrl/status/body describe that page, so tests can assert on it.
 */
export async function completeBrowserLogin(startUrl,
    { login, password = 'x', idpOrigin, cancel = false } = {}) {
  if (!login) throw new Error('completeBrowserLogin: login is required');
  const browser = new Browser();
  const creds = { login, password, cancel };
  const known = new Set([new URL(startUrl).origin]);
  let idp = idpOrigin ?? null;
  if (idp) known.add(idp);
  let next = { url: startUrl, method: 'GET' };
  const seen = new Map();

  for (let step = 0; step < MAX_STEPS; step += 1) {
    const res = await browser.request(next.url, next);
    if (res.status >= 300 && res.status < 400 && res.location) {
      const target = new URL(res.location, next.url);
      if (!known.has(target.origin)) {
        if (!idp && isAuthorizationRequest(target)) {
          idp = target.origin;
          known.add(idp);
        } else {
          return finish(browser, target.href, { method: 'GET' });
        }
      }
      const keep = res.status === 307 || res.status === 308;
      next = keep ? { ...next, url: target.href } : { url: target.href, method: 'GET' };
      continue;
    }
    if (res.status === 200) {
      const action = nextActionForPage(next.url, res.body, creds);
      if (action) {
        const key = `${action.kind} ${action.url}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (seen.get(key) > 2) {
          throw new Error(`driver: the IdP keeps asking for ${action.kind}; giving up`);
        }
        if (!known.has(new URL(action.url).origin)) {
          // A form_post response to the client: that is the final hop.
          return finish(browser, action.url, action);
        }
        next = action;
        continue;
      }
    }
    return { finalUrl: next.url, status: res.status, body: res.body, reachedFinal: false };
  }
  throw new Error(`driver: more than ${MAX_STEPS} steps without reaching the final redirect`);
}

/**
 * Does the user's side of the device flow: opens verificationUriComplete (or the verification
 * URI with { userCode }), confirms the code, signs in as `login`, consents if asked, and resolves
 * when the IdP shows its success page: { finalUrl, status, body }. Rejects on any other outcome.
 */
export async function approveDevice(verificationUri, { login, password = 'x', userCode } = {}) {
  if (!login) throw new Error('approveDevice: login is required');
  const browser = new Browser();
  const creds = { login, password, userCode };
  const origin = new URL(verificationUri).origin;
  let next = { url: verificationUri, method: 'GET' };
  const seen = new Map();

  for (let step = 0; step < MAX_STEPS; step += 1) {
    const res = await browser.request(next.url, next);
    if (res.status >= 300 && res.status < 400 && res.location) {
      const target = new URL(res.location, next.url);
      if (target.origin !== origin) {
        throw new Error(`driver: device flow redirected away from the IdP to ${target.origin}`);
      }
      next = { url: target.href, method: 'GET' };
      continue;
    }
    if (res.status === 200 && /sign-in success/i.test(titleOf(res.body))) {
      return { finalUrl: next.url, status: res.status, body: res.body };
    }
    const action = res.status === 200 ? nextActionForPage(next.url, res.body, creds) : null;
    if (!action) {
      const red = /<p class="red">([\s\S]*?)<\/p>/.exec(res.body);
      const why = red ? red[1] : titleOf(res.body) || `HTTP ${res.status}`;
      throw new Error(`driver: device approval failed at ${next.url}: ${why}`);
    }
    const key = `${action.kind} ${action.url}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (seen.get(key) > 2) throw new Error(`driver: the IdP keeps asking for ${action.kind}`);
    next = action;
  }
  throw new Error(`driver: more than ${MAX_STEPS} steps without reaching the success page`);
}

// ---------------------------------------------------------------------------------------------
// CLI

async function cli(argv) {
  const [command, url, login] = argv;
  if (!command || !url || !login || !['browser-login', 'approve-device'].includes(command)) {
    process.stderr.write(
      'usage: node devenv/driver.mjs browser-login URL LOGIN\n' +
        '       node devenv/driver.mjs approve-device URL LOGIN\n',
    );
    return 2;
  }
  if (command === 'browser-login') {
    const r = await completeBrowserLogin(url, { login });
    process.stdout.write(`${r.finalUrl}\n`);
    if (!r.reachedFinal || r.status >= 400 || r.status === 0) {
      const why = r.error ?? `HTTP ${r.status}\n${r.body.slice(0, 2000)}`;
      process.stderr.write(`driver: stopped at the URL printed on stdout: ${why}\n`);
      return 1;
    }
    return 0;
  }
  const r = await approveDevice(url, { login });
  process.stdout.write(`${r.finalUrl}\n`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
