import { describe, expect, it } from "vitest";
import type { Action, Me } from "../api/client";
import { can, landingPath, LIVE_CALLS, mayOpen, sectionOf, sectionsFor } from "./permissions";

function me(role: string, permissions: Action[], tenant = true): Me {
  return {
    via: "session",
    role,
    permissions,
    tenant: tenant ? { id: "t", slug: "demo", name: "Demo" } : null,
    user: null,
    api_key: null,
    telephony: false,
    temporal_ui: null,
  };
}

const agent = me("agent", ["lead:read", "lead:write", "task:work", "sequence:read", "status:read"]);
const owner = me("owner", [
  "lead:read", "lead:write", "task:work", "sequence:read", "sequence:manage", "user:manage", "api_key:manage",
]);
const sysadmin = me("system_admin", ["tenant:list", "tenant:create", "tenant:settings"], false);

describe("permission gating", () => {
  it("answers from the list the API gave", () => {
    expect(can(agent, "lead:read")).toBe(true);
    expect(can(agent, "sequence:manage")).toBe(false);
    expect(can(null, "lead:read")).toBe(false);
  });
  it("shows an agent the sections of working leads only", () => {
    expect(sectionsFor(agent).map((s) => s.label)).toEqual(["Inbox", "Leads", "Tasks"]);
  });
  it("shows an owner sequences and settings too", () => {
    expect(sectionsFor(owner).map((s) => s.label)).toEqual(["Inbox", "Leads", "Tasks", "Sequences", "Settings"]);
  });
  it("shows a system admin the tenants only, having no tenant", () => {
    expect(sectionsFor(sysadmin).map((s) => s.label)).toEqual(["Tenants"]);
  });
  it("lands where the person was sent away from, when they may see it", () => {
    expect(landingPath(agent, "/leads/123")).toBe("/leads/123");
    expect(landingPath(agent, "/sequences/9")).toBe("/sequences/9"); // read-only
    expect(landingPath(agent, "/settings")).toBe("/inbox");
    expect(landingPath(agent, null)).toBe("/inbox");
    expect(landingPath(sysadmin, "/inbox")).toBe("/tenants");
    expect(landingPath(owner, "/leads?q=ada&status=new")).toBe("/leads?q=ada&status=new");
    expect(landingPath(owner, "/leadsX")).toBe("/inbox");
  });
  it("opens a section's pages to whom may use it, and read-only ones to its readers", () => {
    const at = (path: string) => sectionOf(path)!;
    expect(mayOpen(agent, at("/sequences/new"))).toBe(true); // the page itself refuses what needs managing
    expect(mayOpen(agent, at("/settings/users"))).toBe(false);
    expect(mayOpen(agent, at("/tenants"))).toBe(false);
    expect(mayOpen(sysadmin, at("/leads/1"))).toBe(false);
    expect(mayOpen(sysadmin, at("/inbox"))).toBe(false);
    expect(mayOpen(sysadmin, at("/sequences"))).toBe(false);
    expect(mayOpen(sysadmin, at("/tenants"))).toBe(true);
    expect(sectionOf("/calls")).toBe(LIVE_CALLS);
    expect(sectionOf("/nowhere")).toBeUndefined();
  });
});
