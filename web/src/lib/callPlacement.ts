// How the Call control places a call: the agent's phone rings first and the lead is bridged once they answer, or
// the lead is called directly and hears what the account answers with. Which phone rings and what a lead hears come
// from GET /auth/me (`calls`), as agents cannot read the telephony account. An agent's own phone is remembered in
// this browser, so an account without an agent number asks for it once.
import type { Schemas } from "../api/client";
import { phone as formatPhone } from "./format";

export type CallOptions = Schemas["CallOptions"];
export type CallMode = "ring_me" | "direct";

type Store = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function browserStore(): Store | undefined {
  return typeof localStorage === "undefined" ? undefined : localStorage;
}

function storageKey(userId: string): string {
  return `leadflow.callMeAt.${userId}`;
}

/** The phone this agent last asked to be rung at in this browser; "" when none. */
export function rememberedPhone(userId: string | undefined, store: Store | undefined = browserStore()): string {
  if (!userId || !store) return "";
  return store.getItem(storageKey(userId)) ?? "";
}

/** Keep the phone an agent typed for next time; the account's own number is not kept, so a change to it applies. */
export function rememberPhone(
  userId: string | undefined,
  phone: string,
  options: CallOptions,
  store: Store | undefined = browserStore(),
): void {
  if (!userId || !store) return;
  const typed = phone.trim();
  if (!typed || typed === options.agent_number) store.removeItem(storageKey(userId));
  else store.setItem(storageKey(userId), typed);
}

/** Ring the agent first when there is a phone to ring (their own or the account's), else call the lead directly. */
export function initialPlacement(options: CallOptions, remembered: string): { mode: CallMode; phone: string } {
  const phone = remembered || options.agent_number || "";
  return { mode: phone ? "ring_me" : "direct", phone };
}

/** The click-to-call body for the mode chosen. */
export function callRequest(mode: CallMode, phone: string): Schemas["ClickToCall"] {
  if (mode === "direct") return { ring_agent_first: false };
  return { ring_agent_first: true, agent_phone: phone.trim() || null };
}

const DIRECT_ANSWERS: Record<CallOptions["direct_answer"], (options: CallOptions) => string> = {
  agent: (options) => `they are connected to ${options.agent_number ? formatPhone(options.agent_number) : "the agent number"}`,
  ai: () => "the AI voice agent talks with them",
  message: () => "they hear the account's message",
};

/** What happens when the agent presses Call, in words. */
export function placementHint(mode: CallMode, phone: string, options: CallOptions): string {
  if (mode === "ring_me") {
    const rung = phone.trim() ? formatPhone(phone.trim()) : "Your phone";
    return `${rung} rings first; the lead is dialled once you answer.`;
  }
  return `The lead is dialled; once they answer, ${DIRECT_ANSWERS[options.direct_answer](options)}. A voicemail gets the account's voicemail policy.`;
}
