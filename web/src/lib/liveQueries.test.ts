import { describe, expect, it } from "vitest";
import { staleQueries } from "./liveQueries";

describe("staleQueries", () => {
  it("refreshes the inbox and the lead's thread on a conversation change", () => {
    expect(staleQueries({ type: "conversation.changed", data: { lead_id: "L1" } })).toEqual([
      ["conversations"],
      ["conversation", "L1"],
      ["messages", "L1"],
      ["timeline", "L1"],
      ["ai-drafts", "L1"],
    ]);
  });
  it("refreshes every lead list and the lead on a lead change", () => {
    expect(staleQueries({ type: "lead.changed", data: { lead_id: "L2" } })).toEqual([
      ["leads"],
      ["lead", "L2"],
      ["timeline", "L2"],
    ]);
  });
  it("refreshes everything after a reset", () => {
    expect(staleQueries({ type: "reset", data: {} })).toBe("all");
  });
});
