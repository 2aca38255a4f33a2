// Memory held by slow request bodies: starts the control plane (SQLite, development IdP) on
// loopback, sends one complete 1 MiB body (as a server in service has had), reads its idle RSS
// from /proc/<pid>/status, then opens N connections that each
// announce a body of 1 MiB to the attestation route (the one route that accepts 1 MiB) and send
// most of it slowly, in pieces. It prints the answers by status, the peak RSS while the bodies
// are held, then the RSS each second for 10 s after every connection was closed. Every process
// it starts is stopped at the end. No credential is involved: the bodies never reach a handler.
//
// Usage: node bench/body_memory_bench.mjs
// Environment (all optional):
//   CL_BUILD_DIR        build tree with server/ and cli/ (default <repo>/build)
//   BENCH_CONNECTIONS   connections (default 1000)
//   BENCH_BODY_BYTES    bytes each sends of its 1 MiB body (default 983040 = 960 KiB)
//   BENCH_PIECE_BYTES   bytes per write (default 65536); BENCH_PIECE_MS  ms between writes (250)
//   BENCH_PIN_CONNECTIONS  keep-alive connections opened while the bodies are held and kept
//                       open until the end (default 0)
//   BENCH_SERVER_ARGS   more control plane flags, space-separated (e.g. "--body-budget-bytes 8388608")
process.env.CL_BUILD_DIR ??= new URL('../build', import.meta.url).pathname;
const { startStack } = await import('../tests/e2e/harness.mjs');
const { holdSlowBodies, rssKiB, sendOneLargeBody } = await import('../tests/e2e/slow_bodies.mjs');

const connections = Number(process.env.BENCH_CONNECTIONS ?? 1000);
const bodyBytes = Number(process.env.BENCH_BODY_BYTES ?? 960 * 1024);
const pieceBytes = Number(process.env.BENCH_PIECE_BYTES ?? 64 * 1024);
const pieceMs = Number(process.env.BENCH_PIECE_MS ?? 250);
const pinConnections = Number(process.env.BENCH_PIN_CONNECTIONS ?? 0);
const extra = (process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);

const stack = await startStack({
  extraArgs: ['--max-connections-per-ip', '0', ...extra],
  logLevel: 'warn',
  secretHygiene: false,
});
try {
  const pid = stack.server.process.pid;
  const port = Number(new URL(stack.baseUrl).port);
  await fetch(`${stack.baseUrl}/healthz`);
  const first = await sendOneLargeBody(port);
  console.log(`one complete 1 MiB body first: ${first}`);
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rssKiB(pid);
  console.log(`server args: ${extra.join(' ') || '(defaults)'}`);
  console.log(`idle RSS: ${(idle / 1024).toFixed(1)} MiB`);
  const result = await holdSlowBodies({
    port, pid, connections, bodyBytes, pieceBytes, pieceMs, pinConnections,
  });
  console.log(`answers while sending: ${JSON.stringify(result.statuses)}`);
  console.log(`peak RSS while held: ${(result.peakKiB / 1024).toFixed(1)} MiB ` +
      `(+${((result.peakKiB - idle) / 1024).toFixed(1)} MiB)`);
  const t0 = Date.now();
  for (let s = 0; s <= 10; s++) {
    const rss = rssKiB(pid);
    console.log(`  ${s.toString().padStart(2)} s after close: ${(rss / 1024).toFixed(1)} MiB ` +
        `(+${((rss - idle) / 1024).toFixed(1)} MiB)`);
    await new Promise((r) => setTimeout(r, t0 + (s + 1) * 1000 - Date.now()));
  }
  for (const s of result.pinned) s.destroy();
  const health = await fetch(`${stack.baseUrl}/healthz`);
  console.log(`healthz afterwards: ${health.status}`);
  // Anything but these answers is a failure: the large body is refused 401 (no credential), a
  // slow body is either still being read (0: not answered) or refused 503 by the body budget.
  const unexpected = Object.keys(result.statuses).filter((s) => s !== '0' && s !== '503');
  if (first !== 401 || unexpected.length || health.status !== 200) {
    console.log(`FAILED: unexpected answers (first body ${first}, slow bodies ` +
        `${JSON.stringify(result.statuses)}, healthz ${health.status})`);
    process.exitCode = 1;
  }
} finally {
  await stack.cleanup();
}
