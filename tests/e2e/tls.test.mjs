// End to end: the control plane serves HTTPS itself (tls_cert_file/tls_key_file) with a
// certificate from a throwaway CA made here with the openssl CLI; the CLI verifies it with
// --control-plane-ca, refuses it without, and the server refuses a key file others can read.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CLIENT_ID, CLIENT_SECRET, freePort, missingPrerequisite, recordSecret, runCli,
  serverBin, sleep, startStack, stopProcess,
} from './harness.mjs';

const opensslMissing = spawnSync('openssl', ['version']).status !== 0;
const skip = missingPrerequisite() || (opensslMissing && 'openssl CLI not installed');

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

// CA + server certificate for 127.0.0.1 in `dir`; returns the file paths.
function makeCertificates(dir) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1',
    '-subj', '/CN=chainloop e2e CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'ext.cnf'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf'], dir);
  // A second, unrelated CA.
  openssl(['req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.pem', '-days', '1',
    '-subj', '/CN=someone else'], dir);
  chmodSync(join(dir, 'server.key'), 0o600);
  return {
    ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'),
    otherCa: join(dir, 'other.pem'),
  };
}

// Starts an HTTPS control plane on the stack's database, pepper and IdP. Resolves with
// {process, url, output()} once it logged that it listens, or rejects with its output.
async function startTlsServer(stack, files, { keyFile = files.key } = {}) {
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--external-url', url,
    '--database', stack.database.url, '--data-dir', join(stack.dir, `tls-${port}`),
    '--pepper-file', stack.pepperFile, '--oidc-issuer', stack.idp.issuer,
    '--oidc-client-id', CLIENT_ID, '--tls-cert-file', files.cert, '--tls-key-file', keyFile];
  const env = { ...process.env, CHAINLOOP_OIDC_CLIENT_SECRET: CLIENT_SECRET };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(serverBin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  stack.serverOutputs?.push({ what: `tls server :${port}`, text: () => output });
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) return { process: child, url, output: () => output, exited: true };
    if (output.includes('"listening"')) return { process: child, url, output: () => output };
    await sleep(50);
  }
  await stopProcess(child);
  throw new Error(`TLS server did not start:\n${output}`);
}

describe('HTTPS served by the control plane', () => {
  let stack;
  let files;
  let tls;
  let token;
  before(async () => {
    if (skip) return;
    stack = await startStack();
    files = makeCertificates(stack.dir);
    tls = await startTlsServer(stack, files);
    assert.ok(!tls.exited, tls.output());
    const user = stack.newUser('tlsuser');
    await user.login();
    const org = await user.run(['organization', 'create', '--name', 'tls-org']);
    assert.equal(org.code, 0, org.stderr);
    const created = await user.run(['organization', 'api-token', 'create', '--name', 'tls-ci',
      '-o', 'token']);
    assert.equal(created.code, 0, created.stderr);
    token = created.stdout.trim();
    recordSecret(stack, token, 'API token');
  });
  after(async () => {
    if (tls) await stopProcess(tls.process);
    await stack?.cleanup();
  });

  const cli = (url, extra) => runCli(['--control-plane', url, ...extra,
    '--org', 'tls-org', 'workflow', 'list'], {
    env: { PATH: process.env.PATH, HOME: stack.dir, XDG_CONFIG_HOME: stack.dir,
      CHAINLOOP_TOKEN: token },
  });

  test('the CLI verifies the server with --control-plane-ca and is served', { skip }, async () => {
    const r = await cli(tls.url, ['--control-plane-ca', files.ca]);
    assert.equal(r.code, 0, r.stderr);

  });

  test('the CLI refuses a server its CAs do not vouch for', { skip }, async () => {
    const untrusted = await cli(tls.url, ['--control-plane-ca', files.otherCa]);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate|TLS|SSL/i);
    assert.ok(!untrusted.stderr.includes(token), 'the token is not echoed');
  });

  test('plain HTTP to the TLS port gets no answer; the server stays up', { skip }, async () => {
    const plain = await cli(tls.url.replace('https:', 'http:'), []);
    assert.notEqual(plain.code, 0);
    const again = await cli(tls.url, ['--control-plane-ca', files.ca]);
    assert.equal(again.code, 0, again.stderr);
  });

  test('session cookies set over HTTPS are Secure', { skip }, async () => {
    // /auth/web/login starts the browser login and sets the login-state cookie.
    const r = spawnSync('curl', ['-s', '-D', '-', '-o', '/dev/null', '--cacert', files.ca,
      `${tls.url}/auth/web/login`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const cookies = r.stdout.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
    assert.ok(cookies.length > 0, r.stdout);
    for (const c of cookies) assert.match(c, /;\s*Secure/i, c);
  });

  test('a TLS key file readable by others is refused at start', { skip }, async () => {
    const loose = join(stack.dir, 'loose.key');
    writeFileSync(loose, '');
    spawnSync('cp', [files.key, loose]);
    chmodSync(loose, 0o644);
    const s = await startTlsServer(stack, files, { keyFile: loose });
    if (!s.exited) await stopProcess(s.process);
    assert.ok(s.exited, 'server started with a world-readable key');
    assert.notEqual(s.process.exitCode, 0);
    assert.match(s.output(), /chmod 600/);
    assert.ok(!s.output().includes('PRIVATE KEY'), 'key material echoed');
  });
});


