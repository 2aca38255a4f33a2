// Members page (/members): members with their roles, pending invitations (to those who may read
// them) and an invitation form (to those who may invite). Those holding member:update change a
// member's role, member:remove removes a member (after a confirmation), invitation:revoke
// cancels a pending invitation. Which controls show comes only from the permissions the server
// reports; who may change whom (an admin never touches an owner, the last owner stays) is the
// server's rule, and its refusal is shown as it says it.
import { useId, useState, type FormEvent } from 'react';
import { adminApi, api, type Invitation, type Member } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Empty, ErrorState, Loading, messageOf, useAsync } from '../components/States';
import { PERM } from '../permissions';
import { ROLES } from '../rules';
import { useSession } from '../session';
import { Time } from '../components/Time';

type Flash = { kind: 'ok' | 'error'; text: string } | null;

export function MembersPage() {
  const { org, can, whoami } = useSession();
  const readInvitations = can.orgWide(PERM.invitationRead);
  const mayUpdate = can.orgWide(PERM.memberUpdate);
  const mayRemove = can.orgWide(PERM.memberRemove);
  const mayCancel = can.orgWide(PERM.invitationRevoke);
  const [members, reloadMembers] = useAsync(() => adminApi.members(org.name), `members:${org.name}`);
  const [invitations, reloadInvitations] = useAsync(
    () => (readInvitations ? adminApi.invitations(org.name) : Promise.resolve([])),
    `invitations:${org.name}:${readInvitations}`,
  );
  const [flash, setFlash] = useState<Flash>(null);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [cancelling, setCancelling] = useState<Invitation | null>(null);
  const [busyRow, setBusyRow] = useState('');

  const changeRole = async (m: Member, role: string) => {
    setFlash(null);
    setBusyRow(m.user_id);
    try {
      await adminApi.setMemberRole(org.name, m.user_id, role);
      setFlash({ kind: 'ok', text: `${m.email} is now ${role}.` });
    } catch (e) {
      setFlash({ kind: 'error', text: `The role of ${m.email} was not changed: ${messageOf(e)}` });
    } finally {
      setBusyRow('');
      reloadMembers();
    }
  };

  return (
    <section aria-labelledby="members-title">
      <div className="page-head">
        <h1 id="members-title">Members</h1>
      </div>
      {flash && (
        <p className={flash.kind === 'ok' ? 'flash' : 'inline-error'} role={flash.kind === 'ok' ? 'status' : 'alert'}>
          {flash.text}
        </p>
      )}
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
                {mayRemove && (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.user_id} data-member={m.email}>
                  <td data-label="Name">{m.name || <span className="muted">—</span>}</td>
                  <td data-label="Email">{m.email}</td>
                  <td data-label="Role">
                    {mayUpdate ? (
                      <select
                        aria-label={`Role of ${m.email}`}
                        value={m.role}
                        disabled={busyRow === m.user_id}
                        onChange={(e) => void changeRole(m, e.target.value)}
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                    ) : (
                      <span className={`badge role-${m.role}`}>{m.role}</span>
                    )}
                  </td>
                  <td data-label="Joined">
                    <Time at={m.created_at} />
                  </td>
                  {mayRemove && (
                    <td className="actions">
                      <button
                        type="button"
                        className="btn btn-small"
                        aria-label={m.user_id === whoami.principal.id ? `Leave ${org.name}` : `Remove ${m.email}`}
                        onClick={() => {
                          setFlash(null);
                          setRemoving(m);
                        }}
                      >
                        {m.user_id === whoami.principal.id ? 'Leave' : 'Remove'}
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        ))}

      {readInvitations && (
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
                    {mayCancel && (
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {invitations.data.map((i) => (
                    <tr key={i.id} data-invitation={i.email}>
                      <td data-label="Email">{i.email}</td>
                      <td data-label="Role">
                        <span className={`badge role-${i.role}`}>{i.role}</span>
                      </td>
                      <td data-label="Status">{i.status}</td>
                      <td data-label="Sent">
                        <Time at={i.created_at} />
                      </td>
                      {mayCancel && (
                        <td className="actions">
                          <button
                            type="button"
                            className="btn btn-small"
                            aria-label={`Cancel the invitation of ${i.email}`}
                            onClick={() => {
                              setFlash(null);
                              setCancelling(i);
                            }}
                          >
                            Cancel
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            ))}
        </>
      )}
      {can.orgWide(PERM.invitationCreate) && <InviteForm onInvited={reloadInvitations} />}
      {removing && (
        <ConfirmDialog
          title={removing.user_id === whoami.principal.id ? `Leave ${org.name}?` : `Remove ${removing.email}?`}
          action={removing.user_id === whoami.principal.id ? 'Leave organization' : 'Remove member'}
          onCancel={() => setRemoving(null)}
          run={() => adminApi.removeMember(org.name, removing.user_id)}
          onDone={() => {
            const self = removing.user_id === whoami.principal.id;
            setFlash({ kind: 'ok', text: `${removing.email} was removed from ${org.name}.` });
            setRemoving(null);
            // Whoever leaves has nothing left to see here: start again from their organizations.
            if (self) window.location.reload();
            else reloadMembers();
          }}
        >
          {removing.user_id === whoami.principal.id ? (
            <p>
              You will lose access to <strong>{org.name}</strong> at once, on every device.
            </p>
          ) : (
            <p>
              <strong>{removing.email}</strong> ({removing.role}) loses access to <strong>{org.name}</strong> at
              once. API tokens they created keep working until revoked.
            </p>
          )}
        </ConfirmDialog>
      )}
      {cancelling && (
        <ConfirmDialog
          title={`Cancel the invitation of ${cancelling.email}?`}
          action="Cancel invitation"
          onCancel={() => setCancelling(null)}
          run={() => adminApi.cancelInvitation(org.name, cancelling.id)}
          onDone={() => {
            setFlash({ kind: 'ok', text: `The invitation of ${cancelling.email} was cancelled.` });
            setCancelling(null);
            reloadInvitations();
          }}
        >
          <p>
            <strong>{cancelling.email}</strong> will not join {org.name} as {cancelling.role} when they log in.
          </p>
        </ConfirmDialog>
      )}
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
