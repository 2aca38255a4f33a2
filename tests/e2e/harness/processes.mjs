// Child processes and temp directories of a test run: every child is tracked and killed on
// cleanup (SIGKILLed if the runner exits), every temp directory removed; output capture, free
// ports and the clean environment children start with.
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set();

export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const tempDirs = new Set();

process.once('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) removeDir(dir);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(130));
}

// Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited.
export async function stopProcess(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

// Keeps everything a stream says, for the secret hygiene check (which must see every line,
// not only the tail). Returns {text()}.
export function captureAll(stream) {
  const chunks = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => chunks.push(chunk));
  return { text: () => chunks.join('') };
}

// Keeps the last `limit` characters of a stream, for error messages and assertions.
export function captureTail(stream, limit = 64 * 1024) {
  const box = { text: '' };
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    box.text += chunk;
    if (box.text.length > limit) box.text = box.text.slice(-limit);
  });
  return box;
}

export function sleep(ms) {
  return new Promise((res) => setTimeout(res, ms));
}

// Polls `check` (sync or async) every 100 ms until it returns something truthy, and returns it;
// throws "timed out waiting for WHAT" after `timeoutMs`.
export async function eventually(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A port that was free a moment ago on 127.0.0.1 (bind :0, read, close).
export function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

export function makeTempDir(prefix = 'cl-e2e-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeDir(dir) {
  tempDirs.delete(dir);
  if (process.env.CL_E2E_KEEP === '1') {
    process.stderr.write(`e2e: keeping ${dir}\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

// Resolves with the first match of `regex` in the accumulated text of `stream`; rejects when
// the process exits first or after `timeoutMs`.
export function waitForOutput(child, box, regex, timeoutMs, what) {
  return new Promise((res, rej) => {
    const check = () => {
      const m = box.text.match(regex);
      if (m) {
        done();
        res(m);
      }
    };
    const onExit = (code, signal) => {
      done();
      rej(new Error(`${what}: process exited (code ${code}, signal ${signal}) before output; ` +
          `output:\n${box.text.slice(-4000)}`));
    };
    const timer = setTimeout(() => {
      done();
      rej(new Error(`${what}: no matching output after ${timeoutMs} ms; output:\n` +
          box.text.slice(-4000)));
    }, timeoutMs);
    const stream = box.stream;
    const done = () => {
      clearTimeout(timer);
      stream.off('data', check);
      child.off('exit', onExit);
    };
    stream.on('data', check);
    child.on('exit', onExit);
    check();
  });
}

export function exitOf(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

// The environment without anything that would make a child use the developer's own state.
export function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('CHAINLOOP_')) delete env[k];
  }
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT; // set by node --test; children are not test files
  return env;
}

