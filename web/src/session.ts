// What every page needs about the signed-in person: who they are, the organization they work
// in, their role there and what that role allows.
import { createContext, useContext } from 'react';
import type { Organization, OrgWithRole, WhoAmI } from './api';
import type { Abilities } from './rules';

export interface SessionValue {
  whoami: WhoAmI;
  organizations: OrgWithRole[];
  org: Organization;
  role: string;
  can: Abilities;
  // Reloads the current organization (settings and role) after a change.
  reloadOrg: () => void;
}

export const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside a signed-in page');
  return v;
}
