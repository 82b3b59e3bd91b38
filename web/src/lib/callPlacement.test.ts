import { describe, expect, it } from "vitest";
import { callRequest, initialPlacement, placementHint, rememberedPhone, rememberPhone, type CallOptions } from "./callPlacement";

const desk: CallOptions = { agent_number: "+14155550150", direct_answer: "message" };
const noDesk: CallOptions = { agent_number: null, direct_answer: "ai" };

function memoryStore() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
}

describe("call placement", () => {
  it("rings the agent first when there is a phone to ring, else calls the lead directly", () => {
    expect(initialPlacement(desk, "")).toEqual({ mode: "ring_me", phone: "+14155550150" });
    expect(initialPlacement(noDesk, "")).toEqual({ mode: "direct", phone: "" });
    expect(initialPlacement(noDesk, "+14155550177")).toEqual({ mode: "ring_me", phone: "+14155550177" });
  });
  it("asks the API for what was chosen", () => {
    expect(callRequest("direct", "+14155550177")).toEqual({ ring_agent_first: false });
    expect(callRequest("ring_me", " +14155550177 ")).toEqual({ ring_agent_first: true, agent_phone: "+14155550177" });
  });
  it("remembers a phone the agent typed, not the account's own", () => {
    const store = memoryStore();
    rememberPhone("u1", "(415) 555-0177", desk, store);
    expect(rememberedPhone("u1", store)).toBe("(415) 555-0177");
    expect(rememberedPhone("u2", store)).toBe("");
    rememberPhone("u1", "+14155550150", desk, store);
    expect(rememberedPhone("u1", store)).toBe("");
    expect(rememberedPhone(undefined, store)).toBe("");
  });
  it("says what happens, in words", () => {
    expect(placementHint("ring_me", "+14155550150", desk)).toBe(
      "+1 (415) 555-0150 rings first; the lead is dialled once you answer.",
    );
    expect(placementHint("direct", "", desk)).toContain("they hear the account's message");
    expect(placementHint("direct", "", noDesk)).toContain("the AI voice agent talks with them");
  });
});
