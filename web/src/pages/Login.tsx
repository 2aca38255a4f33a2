// The login page: a plain link to /auth/web/login, where the control plane runs the OIDC flow
// and comes back with the session cookie.
export function LoginPage({ sessionEnded }: { sessionEnded: boolean }) {
  const error = new URLSearchParams(window.location.search).get('login_error');
  return (
    <main className="centered login">
      <div className="card login-card">
        <h1>Chainloop</h1>
        <p>Software supply-chain attestation control plane.</p>
        {sessionEnded && (
          <p className="notice" role="status">
            Your session has ended. Log in again to continue.
          </p>
        )}
        {error && (
          <p className="inline-error" role="alert">
            Login failed: {error}
          </p>
        )}
        <a className="btn btn-primary btn-large" href="/auth/web/login">
          Log in
        </a>
        <p className="muted small">You will be sent to your identity provider to sign in.</p>
      </div>
    </main>
  );
}
