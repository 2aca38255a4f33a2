// Where the e2e tests find what they run (build tree, development IdP, scripted browser), the
// OIDC client they register, the timeouts they allow, and whether this machine can run them.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const buildDir = resolve(process.env.CL_BUILD_DIR || join(repoRoot, 'build'));
export const serverBin = join(buildDir, 'server', 'chainloop-controlplane');
export const cliBin = join(buildDir, 'cli', 'chainloop');
export const idpScript = join(repoRoot, 'devenv', 'idp.mjs');
export const driverScript = join(repoRoot, 'devenv', 'driver.mjs');

export const CLIENT_ID = 'chainloop-dev';
export const CLIENT_SECRET = 'dev-secret';

export const STARTUP_TIMEOUT_MS = 20_000;
export const CLI_TIMEOUT_MS = 60_000;

// Why the suite cannot run here, or false when it can (node:test treats null as "skip").
// Tests pass it as each test's {skip}.
// With CL_E2E_STRICT=1 a missing prerequisite is an error instead (CI after a full build).
export function missingPrerequisite({ needDriver = true } = {}) {
  const wanted = [
    [serverBin, 'control plane binary'],
    [cliBin, 'CLI binary'],
    [idpScript, 'development IdP'],
    [join(repoRoot, 'devenv', 'node_modules', 'oidc-provider'), 'devenv npm packages'],
  ];
  if (needDriver) wanted.push([driverScript, 'scripted browser (devenv/driver.mjs)']);
  if (process.env.CL_E2E_DATABASE === 'postgres' && !process.env.CL_TEST_POSTGRES_URL) {
    return failOrSkip('CL_E2E_DATABASE=postgres but CL_TEST_POSTGRES_URL is not set');
  }
  for (const [path, what] of wanted) {
    if (!existsSync(path)) return failOrSkip(`${what} not found at ${path}`);
  }
  return false;
}

function failOrSkip(reason) {
  if (process.env.CL_E2E_STRICT === '1') throw new Error(`e2e prerequisite missing: ${reason}`);
  return reason;
}
