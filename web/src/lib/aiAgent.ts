// What the inbox says about the AI agent: who answers a conversation, what a person can do about it, and why a
// draft waits for approval. Pure: unit-tested in aiAgent.test.ts.

export type Handler = "ai" | "human" | "unassigned";

/** Who answers the lead, in a sentence an agent reads above the conversation. */
export function handlerLabel(handler: Handler): string {
  switch (handler) {
    case "ai":
      return "The AI agent answers this conversation";
    case "human":
      return "A person answers this conversation: the AI agent stays silent";
    default:
      return "Nobody took this conversation: the AI agent answers when it is on";
  }
}

/** The short badge of a conversation in the list; null when nobody took it. */
export function handlerBadge(handler: Handler): string | null {
  if (handler === "ai") return "AI";
  if (handler === "human") return "Person";
  return null;
}

/** The one change a person can make: take the conversation over, or hand it (back) to the AI agent. */
export function handlerAction(handler: Handler): { label: string; next: "ai" | "human" } {
  return handler === "human" ? { label: "Hand back to the AI", next: "ai" } : { label: "Take over", next: "human" };
}

/** Why a draft waits for a person (the API's `reason`: `draft_mode`, `step_approval` or `guardrail: ...`). */
export function draftReason(reason: string): string {
  if (reason === "draft_mode") return "The AI agent is in draft mode: every reply waits for approval.";
  if (reason === "step_approval") return "A sequence step asks for approval before its AI message goes out.";
  if (reason.startsWith("guardrail:")) {
    const claims = reason.replace(/^guardrail:\s*(not in the facts:\s*)?/, "");
    return `Held by the facts guardrail: ${claims} is not in the business facts.`;
  }
  return reason;
}
