// Members page (/members): members with their roles, pending invitations (to those who may read
// them), and an invitation form (to those who may invite): email and role.
import { useId, useState, type FormEvent } from 'react';
import { api } from '../api';
import { Empty, ErrorState, Loading, messageOf, useAsync } from '../components/States';
import { PERM } from '../permissions';
import { ROLES } from '../rules';
import { useSession } from '../session';
import { Time } from '../components/Time';

export function MembersPage() {
  const { org, can } = useSession();
  const [members, reloadMembers] = useAsync(() => api.members(org.name), `members:${org.name}`);
  const [invitations, reloadInvitations] = useAsync(
    () => (can.orgWide(PERM.invitationRead) ? api.invitations(org.name) : Promise.resolve([])),
    `invitations:${org.name}:${can.orgWide(PERM.invitationRead)}`,
  );
  return (
    <section aria-labelledby="members-title">
      <div className="page-head">
        <h1 id="members-title">Members</h1>
      </div>
      {members.status === 'loading' && <Loading what="members" />}
      {members.status === 'error' && <ErrorState error={members.error} onRetry={reloadMembers} />}
      {members.status === 'done' &&
        (members.data.length === 0 ? (
          <Empty title="No members" />
        ) : (
          <table className="table">
            <caption className="visually-hidden">Members of {org.name}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.user_id}>
                  <td data-label="Name">{m.name || <span className="muted">—</span>}</td>
                  <td data-label="Email">{m.email}</td>
                  <td data-label="Role">
                    <span className={`badge role-${m.role}`}>{m.role}</span>
                  </td>
                  <td data-label="Joined">
                    <Time at={m.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}

      {can.orgWide(PERM.invitationRead) && (
        <>
          <h2>Pending invitations</h2>
          {invitations.status === 'loading' && <Loading what="invitations" />}
          {invitations.status === 'error' && <ErrorState error={invitations.error} onRetry={reloadInvitations} />}
          {invitations.status === 'done' &&
            (invitations.data.length === 0 ? (
              <Empty title="No pending invitations" />
            ) : (
              <table className="table">
                <caption className="visually-hidden">Pending invitations</caption>
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Status</th>
                    <th scope="col">Sent</th>
                  </tr>
                </thead>
                <tbody>
                  {invitations.data.map((i) => (
                    <tr key={i.id}>
                      <td data-label="Email">{i.email}</td>
                      <td data-label="Role">
                        <span className={`badge role-${i.role}`}>{i.role}</span>
                      </td>
                      <td data-label="Status">{i.status}</td>
                      <td data-label="Sent">
                        <Time at={i.created_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ))}
        </>
      )}
      {can.orgWide(PERM.invitationCreate) && <InviteForm onInvited={reloadInvitations} />}
    </section>
  );
}

function InviteForm({ onInvited }: { onInvited: () => void }) {
  const { org } = useSession();
  const emailId = useId();
  const roleId = useId();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('viewer');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [flash, setFlash] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    setFlash('');
    const trimmed = email.trim();
    if (!/^[^\s@]+@[^\s@]+$/.test(trimmed)) {
      setError('Enter an email address.');
      return;
    }
    setBusy(true);
    try {
      await api.invite(org.name, trimmed, role);
      setFlash(`Invitation sent to ${trimmed} as ${role}.`);
      setEmail('');
      onInvited();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card form invite" onSubmit={submit} noValidate aria-labelledby="invite-title">
      <h2 id="invite-title">Invite someone</h2>
      <div className="form-row">
        <div className="field grow">
          <label htmlFor={emailId}>Email</label>
          <input
            id={emailId}
            name="email"
            type="email"
            autoComplete="off"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={roleId}>Role</label>
          <select id={roleId} name="role" value={role} onChange={(e) => setRole(e.target.value)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <div className="field field-button">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Inviting…' : 'Invite'}
          </button>
        </div>
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      {flash && (
        <p className="flash" role="status">
          {flash}
        </p>
      )}
    </form>
  );
}
