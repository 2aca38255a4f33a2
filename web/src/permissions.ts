// What the signed-in person may do in the current organization, as the server says it
// (GET /v1/organizations/{org}: `permissions` and `project_permissions`). The server is the only
// judge: the UI never maps roles to permissions, it shows a control when the permission that
// control needs is granted where the control acts.
import type { OrganizationDescription, ProjectPermissions } from './api';

export const PERM = {
  organizationUpdate: 'organization:update',
  invitationCreate: 'invitation:create',
  invitationRead: 'invitation:read',
  auditRead: 'audit:read',
  apiTokenCreate: 'api_token:create',
  apiTokenRead: 'api_token:read',
  apiTokenRevoke: 'api_token:revoke',
  memberUpdate: 'member:update',
  memberRemove: 'member:remove',
  invitationRevoke: 'invitation:revoke',
  trustPolicyManage: 'trust_policy:manage',
  webhookManage: 'webhook:manage',
} as const;

export class Permissions {
  private readonly granted: ReadonlySet<string>; // org-wide
  private readonly byProject: ReadonlyMap<string, ReadonlySet<string>>; // project name -> set

  constructor(orgWide: readonly string[], projects: readonly ProjectPermissions[]) {
    this.granted = new Set(orgWide);
    this.byProject = new Map(projects.map((p) => [p.project_name, new Set(p.permissions)]));
  }

  static of(d: Pick<OrganizationDescription, 'permissions' | 'project_permissions'>): Permissions {
    return new Permissions(d.permissions ?? [], d.project_permissions ?? []);
  }

  // Granted on the organization and in every project.
  orgWide(permission: string): boolean {
    return this.granted.has(permission);
  }

  // Granted in project `name` (org-wide or by a project role there).
  inProject(permission: string, name: string): boolean {
    return this.granted.has(permission) || (this.byProject.get(name)?.has(permission) ?? false);
  }

  // Granted somewhere: org-wide or in at least one project.
  anywhere(permission: string): boolean {
    return this.granted.has(permission) || this.projectsWith(permission).length > 0;
  }

  // The projects (names, ordered as the server sent them) where `permission` is granted beyond
  // the organization-wide set.
  projectsWith(permission: string): string[] {
    return [...this.byProject].filter(([, set]) => set.has(permission)).map(([name]) => name);
  }

  // Everything held where a token of this scope acts: the organization (project undefined) or
  // one project.
  heldIn(project?: string): ReadonlySet<string> {
    if (project === undefined) return this.granted;
    return new Set([...this.granted, ...(this.byProject.get(project) ?? [])]);
  }
}
