// End to end: docs/openapi.yaml and the server agree on the routes. Every documented path is
// routed (an undocumented method on it gets 405, documented methods never do); when the server
// can list its routes (`chainloop-controlplane routes`), the two sets must be equal.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, repoRoot, serverBin, startStack } from './harness.mjs';

const openapiPath = join(repoRoot, 'docs', 'openapi.yaml');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// Reads `paths:` from an OpenAPI YAML file written in the usual block style:
//   paths:
//     /v1/x/{id}:
//       get: ...
// Returns a Map path -> Set of upper-case methods.
export function openapiRoutes(text) {
  const routes = new Map();
  let inPaths = false;
  let current = null;
  let pathIndent = -1;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '');
    if (!line.trim()) continue;
    const indent = line.length - line.trimStart().length;
    const key = line.trim().match(/^(['"]?)([^'":]+)\1:/)?.[2];
    if (indent === 0) {
      inPaths = key === 'paths';
      current = null;
      continue;
    }
    if (!inPaths || key === undefined) continue;
    if (pathIndent < 0 && key.startsWith('/')) pathIndent = indent;
    if (indent === pathIndent && key.startsWith('/')) {
      current = new Set();
      routes.set(key, current);
    } else if (current && indent > pathIndent && METHODS.includes(key) &&
               indent === nextIndent(pathIndent, line)) {
      current.add(key.toUpperCase());
    }
  }
  return routes;
}

// Method keys sit one level under the path; accept any consistent indentation step.
function nextIndent(pathIndent, line) {
  const indent = line.length - line.trimStart().length;
  return indent > pathIndent && indent <= pathIndent + 4 ? indent : -1;
}

// Replaces {param} with a value that names nothing.
function concrete(path) {
  return path.replace(/\{[^}]+\}/g, 'e2e-probe-does-not-exist');
}

// `chainloop-controlplane routes` -> Map path -> Set of methods, or null when unsupported.
function serverRoutes() {
  const r = spawnSync(serverBin, ['routes'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return null;
  const routes = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = line.trim().match(/^([A-Z]+)\s+(\/\S*)$/);
    if (!m) continue;
    if (!routes.has(m[2])) routes.set(m[2], new Set());
    routes.get(m[2]).add(m[1]);
  }
  return routes.size ? routes : null;
}

const skip = existsSync(openapiPath)
  ? missingPrerequisite()
  : `docs/openapi.yaml does not exist yet`;

describe('OpenAPI route coverage', () => {
  let stack;
  let token;
  let documented;
  before(async () => {
    if (skip) return;
    documented = openapiRoutes(readFileSync(openapiPath, 'utf8'));
    stack = await startStack();
    const user = stack.newUser('routes');
    await user.login();
    token = user.sessionToken();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('the OpenAPI file lists routes', { skip }, () => {
    assert.ok(documented.size >= 10, `only ${documented.size} paths parsed from openapi.yaml`);
    for (const p of ['/healthz', '/readyz', '/v1/organizations', '/v1/auth/whoami']) {
      assert.ok(documented.has(p), `${p} is documented`);
    }
  });

  test('every documented path is routed by the server', { skip }, async () => {
    const problems = [];
    for (const [path, methods] of documented) {
      const url = concrete(path);
      const other = ['PATCH', 'PUT', 'DELETE', 'POST', 'GET'].find((m) => !methods.has(m));
      if (other) {
        const r = await api(stack, other, url, { token, body: other === 'GET' ? undefined : {} });
        if (r.status !== 405) problems.push(`${other} ${path}: ${r.status}, want 405 (routed)`);
      }
      for (const method of methods) {
        if (method === 'POST' && path === '/v1/auth/logout') continue; // would end our session
        const body = ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined;
        const r = await api(stack, method, url, { token, body });
        if (r.status === 405) problems.push(`${method} ${path}: 405 but documented`);
        // The secret-scanning routes are routed always but answer 404 until the operator
        // configures them (docs/secret-scanning.md); that 404 must say so.
        const notConfigured = path.startsWith('/v1/secret-scanning/') &&
            /not configured/.test(r.body?.error?.message ?? '');
        if (!path.includes('{') && r.status === 404 && !notConfigured) {
          problems.push(`${method} ${path}: 404 but documented`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('the server serves exactly the documented routes', { skip }, (t) => {
    const served = serverRoutes();
    if (!served) {
      t.skip('server has no `routes` listing; api/openapi_test.cc checks the router instead');
      return;
    }
    const flat = (m) => [...m].flatMap(([p, ms]) => [...ms].map((x) => `${x} ${p}`)).sort();
    const norm = (s) => s.replace(/\{[^}]+\}/g, '{}').replace(/:[A-Za-z_]+/g, '{}');
    assert.deepEqual(flat(served).map(norm), flat(documented).map(norm));
  });
});

test('openapiRoutes reads paths and methods from block-style YAML', () => {
  const yaml = [
    'openapi: 3.0.3',
    'info:',
    '  title: x # comment',
    'paths:',
    '  /healthz:',
    '    get:',
    '      responses:',
    "        '200':",
    '          description: ok',
    '  "/v1/organizations/{org}":',
    '    parameters:',
    '      - name: org',
    '    get:',
    '      summary: get',
    '    delete:',
    '      summary: delete',
    'components:',
    '  schemas:',
    '    /notapath:',
    '      get: {}',
  ].join('\n');
  const routes = openapiRoutes(yaml);
  assert.deepEqual([...routes.keys()], ['/healthz', '/v1/organizations/{org}']);
  assert.deepEqual([...routes.get('/healthz')], ['GET']);
  assert.deepEqual([...routes.get('/v1/organizations/{org}')].sort(), ['DELETE', 'GET']);
});
