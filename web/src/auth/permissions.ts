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
  /** Also open, read-only, to people who may perform any of these: its pages hide what they may not do. */
  readers?: readonly Action[];
}

export const SECTIONS: readonly Section[] = [
  { path: "/inbox", label: "Inbox", needs: ["lead:read"], tenantOnly: true },
  { path: "/leads", label: "Leads", needs: ["lead:read"], tenantOnly: true },
  { path: "/tasks", label: "Tasks", needs: ["task:work"], tenantOnly: true },
  { path: "/sequences", label: "Sequences", needs: ["sequence:manage"], readers: ["sequence:read"], tenantOnly: true },
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

/** The calls ringing or in progress now: linked beside the sections for tenants with telephony. */
export const LIVE_CALLS: Section = { path: "/calls", label: "Calls", needs: ["call:read"], tenantOnly: true };

/** Whether the person may open the section's pages, in full or read-only (not only whether it is in their menu). */
export function mayOpen(me: Me | null | undefined, section: Section): boolean {
  if (!me || (section.tenantOnly && me.tenant === null)) return false;
  return canAny(me, section.needs) || canAny(me, section.readers ?? []);
}

/** The section a path ("/leads/123?q=x") belongs to, if any. */
export function sectionOf(path: string): Section | undefined {
  const pathname = path.split(/[?#]/)[0] ?? path;
  return [...SECTIONS, LIVE_CALLS].find((s) => pathname === s.path || pathname.startsWith(`${s.path}/`));
}

export function sectionsFor(me: Me | null | undefined): Section[] {
  if (!me) return [];
  return SECTIONS.filter((s) => canAny(me, s.needs) && (!s.tenantOnly || me.tenant !== null));
}

/** Where to land after logging in: the page the person was sent away from, else their first section. */
export function landingPath(me: Me, wanted: string | null): string {
  const section = wanted ? sectionOf(wanted) : undefined;
  if (wanted && section && mayOpen(me, section)) return wanted;
  return sectionsFor(me)[0]?.path ?? "/";
}
