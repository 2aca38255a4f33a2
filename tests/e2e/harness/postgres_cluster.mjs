// Private PostgreSQL servers for the suites that disturb their database: a throwaway cluster in
// a temp dir on a free loopback port (restartable as an operator would, with pg_ctl), and
// PgBouncer in front of it. Both run as the `postgres` user when the tests run as root (initdb
// and PgBouncer refuse root). Imported directly by the suites that need them.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { psql } from './database.mjs';
import { captureTail, freePort, sleep, stopProcess, track } from './processes.mjs';

export const PGBIN = process.env.PGBIN ?? '/usr/lib/postgresql/15/bin';
export const pgBouncerBin = '/usr/sbin/pgbouncer';

const asRoot = () => process.getuid?.() === 0;

// The uid and gid of the `postgres` user.
function postgresIds() {
  const id = (flag) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout);
  return { uid: id('-u'), gid: id('-g') };
}

// A temp dir the servers may write to (owned by `postgres` when we are root).
function serverDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (asRoot()) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  return dir;
}

// The command line running a PostgreSQL tool, as the `postgres` user when we are root.
function pgCommand(tool, args) {
  if (!asRoot()) return [join(PGBIN, tool), args];
  return ['runuser', ['-u', 'postgres', '--', join(PGBIN, tool), ...args]];
}

function pgTool(tool, args) {
  const r = spawnSync(...pgCommand(tool, args), { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`${tool} ${args.join(' ')} failed: ${r.error ?? ''} ${r.stderr} ${r.stdout}`);
  }
}

// pgTool without blocking the event loop (clients keep running meanwhile).
function pgToolAsync(tool, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(...pgCommand(tool, args), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() :
      reject(new Error(`${tool} ${args.join(' ')} failed (${code}): ${stderr}`))));
  });
}

// A throwaway cluster on a free loopback port, like scripts/with-postgres.sh makes; stopped and
// removed by stop(), or when this process exits. `settings` are extra `-c name=value` server
// settings. Returns {url, port, restart(), stop()}.
export async function startPrivatePostgres({ prefix = 'cl-pg-', settings = [] } = {}) {
  const dir = serverDir(prefix);
  const data = join(dir, 'data');
  pgTool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  let running = true;
  const stop = () => {
    if (running) {
      running = false;
      try {
        pgTool('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  };
  process.once('exit', stop);
  pgTool('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off` +
    settings.map((setting) => ` -c ${setting}`).join('')]);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    // Restarts the cluster as an operator would (fast shutdown: sessions are terminated).
    restart: () => pgToolAsync('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'restart']),
    stop,
  };
}

// Why PgBouncer cannot run here, or false.
export function pgBouncerMissing() {
  return existsSync(pgBouncerBin) ? false :
    `PgBouncer not found at ${pgBouncerBin} (scripts/install-deps.sh installs it)`;
}

// PgBouncer on a free loopback port in front of `pg` (from startPrivatePostgres), every database
// name passed through and logged in as `postgres`. Returns {port, url(database), logs(), stop()};
// url(name) is `name` on PostgreSQL through the pooler.
export async function startPgBouncer(pg, { poolMode = 'transaction' } = {}) {
  const dir = serverDir('cl-pgbouncer-');
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(ini, [
    '[databases]',
    `* = host=127.0.0.1 port=${pg.port} user=postgres`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = any',
    `pool_mode = ${poolMode}`,
    'max_client_conn = 500',
    'default_pool_size = 40',
    'server_reset_query =',
    '',
  ].join('\n'));
  const ids = asRoot() ? postgresIds() : {};
  if (asRoot()) chownSync(ini, ids.uid, ids.gid);
  const child = track(spawn(pgBouncerBin, [ini], { ...ids, stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = captureTail(child.stdout);
  const err = captureTail(child.stderr);
  const logs = () => err.text + out.text;
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`;
  for (let tries = 0; ; tries++) {
    try {
      psql(url('postgres'), 'SELECT 1');
      break;
    } catch (e) {
      if (child.exitCode !== null || tries >= 100) {
        await stop();
        throw new Error(`PgBouncer did not start: ${e.message}\n${logs().slice(-4000)}`);
      }
      await sleep(50);
    }
  }
  return { port, url, logs, stop };
}
