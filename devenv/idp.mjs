// Development OpenID Provider (npm `oidc-provider`) for the quickstart and the tests.
// NEVER for production: fixed committed keys, fixed cookie keys, any password logs you in.
//
// Usage: node devenv/idp.mjs [--host 127.0.0.1] [--port 8090] [--redirect-uri URL]...
//                            [--client-id chainloop-dev] [--client-secret dev-secret]
// When listening it prints one JSON line on stdout: {"issuer":"http://HOST:PORT","port":PORT}.
// Everything else (warnings, request logs) goes to stderr.
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// oidc-provider prints its development warnings with console.log/info; keep stdout for the one
// JSON line the callers parse.
console.log = console.error;
console.info = console.error;

const here = dirname(fileURLToPath(import.meta.url));

function usage(message) {
  process.stderr.write(`idp.mjs: ${message}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8090' },
      'redirect-uri': { type: 'string', multiple: true },
      'client-id': { type: 'string', default: 'chainloop-dev' },
      'client-secret': { type: 'string', default: 'dev-secret' },
    },
    strict: true,
  }));
} catch (err) {
  usage(err.message);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad --port ${args.port}`);
const redirectUris = args['redirect-uri']?.length
  ? args['redirect-uri']
  : ['http://127.0.0.1:8000/auth/callback'];
for (const uri of redirectUris) {
  try {
    new URL(uri); // eslint-disable-line no-new
  } catch {
    usage(`bad --redirect-uri ${uri}`);
  }
}

const jwks = JSON.parse(readFileSync(join(here, 'jwks.json'), 'utf8'));

// The login name is the account id; claims are derived from it so tests can pick identities.
function claimsFor(id) {
  const email = id.includes('@') ? id : `${id}@example.com`;
  const local = email.slice(0, email.indexOf('@'));
  const name = local
    .split(/[._\-+]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join(' ');
  return {
    sub: id,
    email,
    email_verified: !id.startsWith('unverified'),
    name: name || local,
  };
}

async function findAccount(ctx, id) {
  if (typeof id !== 'string' || id.length === 0) return undefined;
  return {
    accountId: id,
    async claims() {
      return claimsFor(id);
    },
  };
}

const supportedScopes = ['openid', 'email', 'profile'];

// Grants every requested supported scope up front, so the consent prompt is only shown when the
// client forces it (prompt=consent); the devInteractions consent form still works then.
async function loadExistingGrant(ctx) {
  const { provider, client, session, account } = ctx.oidc;
  const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
  let grant;
  if (grantId) grant = await provider.Grant.find(grantId);
  if (!grant || grant.accountId !== account.accountId) {
    grant = new provider.Grant({ accountId: account.accountId, clientId: client.clientId });
  }
  const requested = String(ctx.oidc.params?.scope ?? 'openid')
    .split(' ')
    .filter((s) => supportedScopes.includes(s));
  if (requested.length) grant.addOIDCScope(requested.join(' '));
  await grant.save();
  return grant;
}

async function main() {
  const { default: Provider } = await import('oidc-provider');

  let provider;
  const server = http.createServer((req, res) => {
    if (!provider) {
      res.writeHead(503).end();
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, args.host, resolve);
  });
  const actualPort = server.address().port;
  const hostForUrl = args.host.includes(':') ? `[${args.host}]` : args.host;
  const issuer = `http://${hostForUrl}:${actualPort}`;

  provider = new Provider(issuer, {
    clients: [
      {
        client_id: args['client-id'],
        client_secret: args['client-secret'],
        client_name: 'Chainloop (development)',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks,
    cookies: {
      keys: ['chainloop-devenv-cookie-key-1-not-secret', 'chainloop-devenv-cookie-key-2-not-secret'],
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    pkce: { required: () => true },
    conformIdTokenClaims: false,
    scopes: supportedScopes,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    findAccount,
    loadExistingGrant,
    clientBasedCORS: () => true,
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      DeviceCode: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><body><h1>oops! something went wrong</h1><pre>${Object.entries(
        out,
      )
        .map(([k, v]) => `${k}: ${String(v).replace(/[<>&"]/g, '')}`)
        .join('\n')}</pre></body></html>`;
    },
  });
  provider.on('server_error', (ctx, err) => process.stderr.write(`idp: server_error ${err}\n`));

  process.stdout.write(`${JSON.stringify({ issuer, port: actualPort })}\n`);
  process.stderr.write(`idp: development OpenID Provider listening at ${issuer}\n`);

  const shutdown = (signal) => {
    process.stderr.write(`idp: ${signal}, shutting down\n`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`idp: ${err.stack || err}\n`);
  process.exit(1);
});
