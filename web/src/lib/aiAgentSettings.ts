// The AI agent's settings form (GET/PUT /api/v1/ai/agent): what a sales owner sets, as form values, and the body a
// save sends. Every PUT stores the whole settings as a new version, so what the form does not show (temperature,
// output tokens, tools, answer hours) is sent back as it was. The API key is write-only: null keeps the stored
// one, "" clears it. Pure: unit-tested in aiAgentSettings.test.ts.
import type { Schemas } from "../api/client";

export type AgentSettings = Schemas["AgentSettingsPublic"];
export type AgentMode = Schemas["AgentMode"];

export const AGENT_MODES: { value: AgentMode; label: string }[] = [
  { value: "off", label: "Off: the agent never answers" },
  { value: "draft", label: "Draft: every reply waits for a person's approval" },
  { value: "auto", label: "Auto: replies are sent" },
];

export type AgentForm = {
  mode: AgentMode;
  model: string;
  baseUrl: string;
  /** A new API key to store; empty keeps the stored one. */
  newApiKey: string;
  /** Remove the stored API key (the agent must then be off). */
  clearApiKey: boolean;
  systemPrompt: string;
  facts: string;
  debounceSeconds: string;
  draftTimeoutMinutes: string;
  budgetSoft: string;
  budgetHard: string;
};

/** The form's values from the current settings. */
export function readAgent(settings: AgentSettings): AgentForm {
  return {
    mode: settings.mode,
    model: settings.model,
    baseUrl: settings.base_url,
    newApiKey: "",
    clearApiKey: false,
    systemPrompt: settings.system_prompt,
    facts: settings.facts,
    debounceSeconds: String(settings.debounce_seconds),
    draftTimeoutMinutes: String(settings.draft_timeout_minutes),
    budgetSoft: settings.monthly_token_budget_soft === null ? "" : String(settings.monthly_token_budget_soft),
    budgetHard: settings.monthly_token_budget_hard === null ? "" : String(settings.monthly_token_budget_hard),
  };
}

/** A number typed in a field; blank is `blank`. */
export function typedNumber<T extends number | null>(value: string, blank: T): number | T {
  const trimmed = value.trim();
  return trimmed === "" ? blank : Number(trimmed);
}

/** The body of the PUT: the form's values over the current settings. */
export function agentBody(form: AgentForm, current: AgentSettings): Schemas["AgentSettingsUpdate"] {
  return {
    mode: form.mode,
    // Blank: the server's default model and endpoint.
    model: form.model.trim() || null,
    base_url: form.baseUrl.trim() || null,
    api_key: form.clearApiKey ? "" : form.newApiKey.trim() || null,
    system_prompt: form.systemPrompt,
    facts: form.facts,
    debounce_seconds: typedNumber(form.debounceSeconds, current.debounce_seconds),
    draft_timeout_minutes: typedNumber(form.draftTimeoutMinutes, current.draft_timeout_minutes),
    monthly_token_budget_soft: typedNumber(form.budgetSoft, null),
    monthly_token_budget_hard: typedNumber(form.budgetHard, null),
    temperature: current.temperature,
    max_output_tokens: current.max_output_tokens,
    tools: current.tools,
    answer_hours: current.answer_hours,
  };
}
