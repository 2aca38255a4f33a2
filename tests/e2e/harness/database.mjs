// The database of a test stack: a SQLite file in the stack's directory, or a fresh PostgreSQL
// database per stack (CL_E2E_DATABASE=postgres); direct SQL and full dumps for the tests.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

// Returns {url, drop()} for the database the server under test should use.
export async function createDatabase(dir) {
  if (process.env.CL_E2E_DATABASE !== 'postgres') {
    return { url: `sqlite:${join(dir, 'controlplane.db')}`, kind: 'sqlite', drop: async () => {} };
  }
  const base = process.env.CL_TEST_POSTGRES_URL;
  const name = `cl_e2e_${process.pid}_${randomBytes(4).toString('hex')}`;
  psql(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: 'postgres',
    drop: async () => psql(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

// Runs one statement; returns its unaligned, tuples-only output.
export function psql(url, sql) {
  const r = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`psql failed (${sql}): ${r.error ?? ''} ${r.stderr}`);
  return r.stdout.trim();
}

// Runs one SQL statement directly on the stack's database (SQLite file or PostgreSQL), for
// tests that must simulate what cannot happen in real time (e.g. a token's age). Returns the
// output as text: one row per line, columns separated by '|'.
export function sql(stack, statement) {
  const { url, kind } = stack.database;
  if (kind === 'postgres') return psql(url, statement);
  const file = url.slice('sqlite:'.length);
  const r = spawnSync('sqlite3', ['-batch', '-bail', '-cmd', '.timeout 10000', file, statement], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) {
    throw new Error(`sqlite3 failed (${statement}): ${r.error ?? ''} ${r.stderr}`);
  }
  return r.stdout.trim();
}

// A full text dump of the stack's database (every table, every column).
export function dumpDatabase(stack) {
  const { url, kind } = stack.database;
  const r = kind === 'postgres' ?
    spawnSync('pg_dump', ['--data-only', '--no-owner', '--no-privileges', '-d', url],
        { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 }) :
    spawnSync('sqlite3', ['-batch', '-bail', '-cmd', '.timeout 10000',
      url.slice('sqlite:'.length), '.dump'],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`database dump failed: ${r.error ?? ''} ${r.stderr}`);
  return r.stdout;
}
