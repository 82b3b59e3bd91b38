import { describe, expect, it } from "vitest";
import type { Me } from "../api/client";
import { temporalLink } from "./links";

const base: Me = {
  via: "session",
  role: "owner",
  permissions: ["user:manage"],
  tenant: { id: "t", slug: "demo", name: "Demo" },
  user: null,
  api_key: null,
  telephony: false,
  temporal_ui: { url: "http://127.0.0.1:8233/", namespace: "default" },
};

describe("temporalLink", () => {
  it("lists the lead's workflows by its search attribute", () => {
    expect(temporalLink(base, "L-1")).toBe(
      "http://127.0.0.1:8233/namespaces/default/workflows?query=LeadId%3D%22L-1%22",
    );
  });
  it("is absent for those who may not inspect workflows", () => {
    expect(temporalLink({ ...base, permissions: [], temporal_ui: null }, "L-1")).toBeNull();
  });
});
