import { describe, expect, it } from "vitest";
import { agentBody, readAgent, type AgentSettings } from "./aiAgentSettings";

const current: AgentSettings = {
  version: 3,
  mode: "draft",
  model: "gpt-4o-mini",
  base_url: "https://api.openai.com/v1",
  has_api_key: true,
  system_prompt: "You sell flats.",
  facts: "Viewings on Saturdays.",
  temperature: 0.7,
  max_output_tokens: 500,
  tools: ["get_lead"],
  answer_hours: { days: ["mon"], start: "09:00:00", end: "17:00:00" },
  debounce_seconds: 5,
  draft_timeout_minutes: 60,
  monthly_token_budget_soft: 1000,
  monthly_token_budget_hard: null,
  paused: false,
  updated_at: null,
  updated_by: null,
};

describe("the AI agent's settings form", () => {
  it("sends the values back with the stored key kept and what the form does not show unchanged", () => {
    const body = agentBody(readAgent(current), current);
    expect(body.api_key).toBeNull();
    expect(body.monthly_token_budget_soft).toBe(1000);
    expect(body.monthly_token_budget_hard).toBeNull();
    expect([body.temperature, body.max_output_tokens, body.tools, body.answer_hours]).toEqual([
      0.7,
      500,
      ["get_lead"],
      current.answer_hours,
    ]);
  });
  it("replaces or clears the key, and leaves a blank model to the server", () => {
    const form = { ...readAgent(current), newApiKey: " sk-new ", model: " ", budgetSoft: "" };
    const body = agentBody(form, current);
    expect(body.api_key).toBe("sk-new");
    expect(body.model).toBeNull();
    expect(body.monthly_token_budget_soft).toBeNull();
    expect(agentBody({ ...form, clearApiKey: true }, current).api_key).toBe("");
  });
});
