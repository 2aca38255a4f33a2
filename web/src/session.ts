// What every page needs about the signed-in person: who they are, the organization they work
// in, their role there and what the server says they may do there.
import { createContext, useContext } from 'react';
import type { Organization, OrgWithRole, WhoAmI } from './api';
import type { Permissions } from './permissions';

export interface SessionValue {
  whoami: WhoAmI;
  organizations: OrgWithRole[];
  org: Organization;
  role: string;
  can: Permissions;
  // Reloads the current organization (settings and role) after a change.
  reloadOrg: () => void;
}

export const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside a signed-in page');
  return v;
}
