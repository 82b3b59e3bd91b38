import { describe, expect, it } from "vitest";
import { actorLabel, eventSummary } from "./timeline";

describe("actorLabel", () => {
  it("names people, keys and sequences by the name the API resolved", () => {
    expect(actorLabel({ actor: "user:d1930138-0000-4000-8000-000000000000", actor_name: "Ada Agent" })).toBe(
      "Ada Agent",
    );
    expect(actorLabel({ actor: "api_key:1", actor_name: "crm sync" })).toBe("API key “crm sync”");
    expect(actorLabel({ actor: "sequence:2", actor_name: "Welcome" })).toBe("Sequence “Welcome”");
  });
  it("never shows an id, even when the row is gone", () => {
    expect(actorLabel({ actor: "user:d1930138-0000-4000-8000-000000000000", actor_name: null })).toBe(
      "A former user",
    );
    expect(actorLabel({ actor: "api_key:1", actor_name: null })).toBe("A deleted API key");
  });
  it("labels the actors that are no person", () => {
    expect(actorLabel({ actor: "lead:3", actor_name: null })).toBe("The lead");
    expect(actorLabel({ actor: "ai_agent:v4", actor_name: null })).toBe("AI agent");
    expect(actorLabel({ actor: "ai:turn", actor_name: null })).toBe("AI agent");
    expect(actorLabel({ actor: "system", actor_name: null })).toBe("Automation");
    expect(actorLabel({ actor: "workflow", actor_name: null })).toBe("Automation");
    expect(actorLabel({ actor: "whatsapp", actor_name: null })).toBe("WhatsApp");
    expect(actorLabel({ actor: "web_form", actor_name: null })).toBe("Web form");
  });
});

describe("eventSummary", () => {
  it("lists the fields an update changed", () => {
    expect(eventSummary({ kind: "updated", data: { fields: ["email", "name", "owner_id"] } })).toBe(
      "e-mail, name, owner",
    );
  });
  it("names the sequence a lead was enrolled in", () => {
    expect(eventSummary({ kind: "sequence_enrolled", data: { sequence_name: "Welcome", version: 2 } })).toBe(
      "“Welcome” v2",
    );
  });
  it("keeps status changes and message bodies", () => {
    expect(eventSummary({ kind: "status_changed", data: { from: "new", to: "contacted" } })).toBe("new → contacted");
    expect(eventSummary({ kind: "whatsapp_received", data: { body: "Hi" } })).toBe("“Hi”");
    expect(eventSummary({ kind: "created", data: {} })).toBe("");
  });
});
