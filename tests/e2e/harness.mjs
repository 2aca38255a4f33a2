// End-to-end test harness: starts real processes (development IdP, control plane, CLI) on
// loopback with temp directories, and guarantees they are all gone when the suite ends, also
// when a test fails or the runner is interrupted. The one import of every e2e suite, the web
// UI tests and bench/*.mjs; the work is done in harness/:
//   environment.mjs     paths of the binaries and the IdP, prerequisites, timeouts
//   processes.mjs       child tracking and cleanup, temp directories, free ports, output capture
//   database.mjs        the SQLite file or PostgreSQL database of a stack, direct SQL, dumps
//   stack.mjs           IdP + database + control plane(s), restart/kill, `jobs run`
//   users.mjs           simulated users: CLI runs, browser and device-flow logins
//   secret_hygiene.mjs  every credential the helpers saw, searched for in logs and the database
//   api.mjs             direct HTTP calls and the request bodies tests send
//   recording.mjs       responses recorded for the OpenAPI contract check (CL_E2E_RECORD_DIR)
//   balancer.mjs        nginx with deploy/nginx/chainloop.conf in front of N instances
//                       (imported directly by the suites that need it)
//   postgres_cluster.mjs  a private PostgreSQL cluster (restartable) and PgBouncer in front of
//                       it (imported directly by the suites that need them)
//
// Environment:
//   CL_BUILD_DIR       build tree holding server/ and cli/ binaries (default: <repo>/build)
//   CL_E2E_DATABASE    "sqlite" (default) or "postgres" (needs CL_TEST_POSTGRES_URL)
//   CL_E2E_STRICT=1    missing binaries/IdP fail the suite instead of skipping it
//   CL_E2E_KEEP=1      keep temp directories (logs, configs, SQLite files) for debugging
//   CL_E2E_RECORD_DIR  record every response of the control plane to DIR/<pid>.jsonl
//                      (checked by tests/openapi/validate_responses.mjs)
//   CL_E2E_SECRET_HYGIENE=0  skip the checkSecretHygiene() every stack runs at cleanup (it
//                      fails the suite if a credential it saw leaked into a log, error body, CLI
//                      stderr or the database)
export { api, statement, writeJson } from './harness/api.mjs';
export { createDatabase, dumpDatabase, sql } from './harness/database.mjs';
export {
  buildDir, CLIENT_ID, CLIENT_SECRET, cliBin, driverScript, idpScript, missingPrerequisite,
  repoRoot, serverBin,
} from './harness/environment.mjs';
export { eventually, freePort, makeTempDir, sleep, stopProcess } from './harness/processes.mjs';
export { recordedFetch, recordResponse } from './harness/recording.mjs';
export { checkSecretHygiene, recordSecret, recordSecretsIn } from './harness/secret_hygiene.mjs';
export { runServerJob, startIdp, startStack } from './harness/stack.mjs';
export { browserLogin, deviceLogin, runCli, show } from './harness/users.mjs';
