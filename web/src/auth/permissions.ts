// What the signed-in person may see. The list comes from GET /auth/me; the server still checks every request.
import type { Action, Me } from "../api/client";

export function can(me: Me | null | undefined, action: Action): boolean {
  return !!me && me.permissions.includes(action);
}

export function canAny(me: Me | null | undefined, actions: readonly Action[]): boolean {
  return actions.some((action) => can(me, action));
}

export interface Section {
  path: string;
  label: string;
  /** Shown when the person may perform any of these. */
  needs: readonly Action[];
  /** Only for people of a tenant (a system admin has none). */
  tenantOnly: boolean;
}

export const SECTIONS: readonly Section[] = [
  { path: "/inbox", label: "Inbox", needs: ["lead:read"], tenantOnly: true },
  { path: "/leads", label: "Leads", needs: ["lead:read"], tenantOnly: true },
  { path: "/tasks", label: "Tasks", needs: ["task:work"], tenantOnly: true },
  { path: "/sequences", label: "Sequences", needs: ["sequence:manage"], tenantOnly: true },
  {
    path: "/settings",
    label: "Settings",
    needs: [
      "user:manage",
      "api_key:manage",
      "status:manage",
      "whatsapp_account:manage",
      "ai_agent:manage",
      "telephony_account:manage",
    ],
    tenantOnly: true,
  },
  { path: "/tenants", label: "Tenants", needs: ["tenant:list"], tenantOnly: false },
];

export function sectionsFor(me: Me | null | undefined): Section[] {
  if (!me) return [];
  return SECTIONS.filter((s) => canAny(me, s.needs) && (!s.tenantOnly || me.tenant !== null));
}

/** Where to land after logging in: the page the person was sent away from, else their first section. */
export function landingPath(me: Me, wanted: string | null): string {
  const sections = sectionsFor(me);
  if (wanted && wanted !== "/" && !wanted.startsWith("/login") && sections.some((s) => wanted.startsWith(s.path))) {
    return wanted;
  }
  return sections[0]?.path ?? "/";
}
