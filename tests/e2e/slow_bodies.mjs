// Slow request bodies against a running control plane, for tests/e2e/body_memory.test.mjs and
// bench/body_memory_bench.mjs: many connections each announce a 1 MiB body to the attestation
// route (the one route that accepts 1 MiB) and send most of it slowly, while the server's RSS
// is sampled from /proc/<pid>/status.
import { readFileSync } from 'node:fs';
import * as net from 'node:net';

export const ATTESTATION_PATH = '/v1/organizations/o/workflow-runs/r/attestation';
const DECLARED_BYTES = 1024 * 1024;

// The resident set size of process `pid`, in KiB.
export function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

// Sends one complete 1 MiB body to the attestation route (answered 401: no credential) and
// resolves with the status. A server that has freed one large body is in its steady state:
// glibc then raises its mmap threshold, so later large bodies come from its arenas, which it
// does not hand back to the system by itself.
export async function sendOneLargeBody(port) {
  const s = await connect(port);
  s.write(`POST ${ATTESTATION_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${DECLARED_BYTES}\r\nConnection: close\r\n\r\n`);
  s.write(Buffer.alloc(DECLARED_BYTES, 0x20));
  while (!s.gone) await new Promise((r) => setTimeout(r, 10));
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(s.answer)?.[1] ?? 0);
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    s.answer = '';
    s.sent = 0;
    s.gone = false;
    s.on('data', (d) => { s.answer += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { s.gone = true; });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// Opens `connections` connections; each sends the header of a 1 MiB body, then `bodyBytes` of
// it in `pieceBytes` pieces every `pieceMs` until it is answered or done. Once every connection
// is done or answered, waits `holdMs`, then closes them all (the bodies are never completed).
// With `pinConnections`, that many keep-alive connections are opened (one GET each) before
// the bodies are closed and left open for the caller to close (`pinned`).
// Resolves with {statuses: {status: count} (0: not answered), peakKiB: highest RSS seen, pinned}.
export async function holdSlowBodies({
  port, pid, connections, bodyBytes = 960 * 1024, pieceBytes = 64 * 1024, pieceMs = 250,
  holdMs = 1000, pinConnections = 0,
}) {
  const header = `POST ${ATTESTATION_PATH} HTTP/1.1\r\nHost: x\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${DECLARED_BYTES}\r\n\r\n`;
  const piece = Buffer.alloc(pieceBytes, 0x20);
  let peakKiB = rssKiB(pid);
  const sampler = setInterval(() => {
    try {
      peakKiB = Math.max(peakKiB, rssKiB(pid));
    } catch {
      // the server is gone; the caller notices
    }
  }, 50);
  const sockets = [];
  const pinned = [];
  let pump;
  try {
    for (let i = 0; i < connections; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(connections, i + 100); j++) batch.push(connect(port));
      for (const s of await Promise.all(batch)) {
        s.write(header);
        sockets.push(s);
      }
    }
    const active = (s) => !s.gone && s.answer === '' && s.sent < bodyBytes;
    await new Promise((resolve) => {
      pump = setInterval(() => {
        let left = 0;
        for (const s of sockets) {
          if (!active(s)) continue;
          const n = Math.min(pieceBytes, bodyBytes - s.sent);
          s.write(n === pieceBytes ? piece : piece.subarray(0, n));
          s.sent += n;
          if (active(s)) left++;
        }
        if (left === 0) resolve();
      }, pieceMs);
    });
    await new Promise((r) => setTimeout(r, holdMs));
    // Keep-alive connections opened while the bodies are held: their state is allocated after
    // (above) the bodies' memory and outlives it, which keeps freed memory below it in place.
    for (let i = 0; i < pinConnections; i++) {
      const s = await connect(port);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      pinned.push(s);
    }
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    clearInterval(pump);
    clearInterval(sampler);
    for (const s of sockets) s.destroy();
  }
  const statuses = {};
  for (const s of sockets) {
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(s.answer)?.[1] ?? 0);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  return { statuses, peakKiB, pinned };
}
