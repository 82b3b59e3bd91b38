import { describe, expect, it } from "vitest";
import { draftReason, handlerAction, handlerBadge, handlerLabel } from "./aiAgent";

describe("the conversation's handler", () => {
  it("offers to take over a conversation the AI answers or nobody took", () => {
    expect(handlerAction("ai")).toEqual({ label: "Take over", next: "human" });
    expect(handlerAction("unassigned")).toEqual({ label: "Take over", next: "human" });
  });
  it("offers to hand a person's conversation back to the AI", () => {
    expect(handlerAction("human")).toEqual({ label: "Hand back to the AI", next: "ai" });
  });
  it("names who answers, with a badge only for a taken conversation", () => {
    expect(handlerLabel("human")).toContain("AI agent stays silent");
    expect(handlerLabel("unassigned")).toContain("answers when it is on");
    expect([handlerBadge("ai"), handlerBadge("human"), handlerBadge("unassigned")]).toEqual(["AI", "Person", null]);
  });
});

describe("draftReason", () => {
  it("explains each reason a draft waits", () => {
    expect(draftReason("draft_mode")).toBe("The AI agent is in draft mode: every reply waits for approval.");
    expect(draftReason("step_approval")).toContain("sequence step");
    expect(draftReason("guardrail: not in the facts: 50%, discount")).toBe(
      "Held by the facts guardrail: 50%, discount is not in the business facts.",
    );
  });
  it("shows an unknown reason as it came", () => {
    expect(draftReason("something new")).toBe("something new");
  });
});
