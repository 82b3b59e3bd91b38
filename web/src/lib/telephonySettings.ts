// The telephony account form (GET/PUT /api/v1/telephony/account): the call policy a sales owner sets, as form values,
// and the body a save sends. A PUT replaces the whole account, so what the form does not show (the recording consent
// prompt, the voice script) is sent back as it was. The auth token is write-only: null keeps the stored one, ""
// clears it. Pure: unit-tested in telephonySettings.test.ts.
import type { Schemas } from "../api/client";
import { typedNumber } from "./aiAgentSettings";

export type TelephonyAccount = Schemas["TelephonyAccountPublic"];
type Update = Schemas["TelephonyAccountUpdate"];

export type Provider = Update["provider"];
export type VoicemailPolicy = Update["voicemail_policy"];
export type HumanAnswerMode = Update["human_answer_mode"];
export type InboundRouting = Update["inbound_routing"];

export const VOICEMAIL_POLICIES: { value: VoicemailPolicy; label: string }[] = [
  { value: "hang_up", label: "Hang up" },
  { value: "drop_message", label: "Leave the voicemail message" },
];
export const HUMAN_ANSWER_MODES: { value: HumanAnswerMode; label: string }[] = [
  { value: "message", label: "Say the answer message" },
  { value: "agent", label: "Connect the agent number" },
  { value: "ai", label: "The AI voice agent talks" },
];
export const INBOUND_ROUTINGS: { value: InboundRouting; label: string }[] = [
  { value: "voicemail", label: "Take a voicemail" },
  { value: "agent", label: "Ring the agent number" },
  { value: "ai", label: "The AI voice agent answers" },
];

export type TelephonyForm = {
  provider: Provider;
  accountSid: string;
  /** A new auth token to store; empty keeps the stored one. */
  newAuthToken: string;
  /** Remove the stored auth token. */
  clearAuthToken: boolean;
  /** One number a line. */
  callerIds: string;
  agentNumber: string;
  concurrentCallLimit: string;
  callsPerSecond: string;
  ringTimeoutSeconds: string;
  recordingEnabled: boolean;
  voicemailPolicy: VoicemailPolicy;
  voicemailMessage: string;
  humanAnswerMode: HumanAnswerMode;
  answerMessage: string;
  inboundRouting: InboundRouting;
  retryMaxAttempts: string;
  retrySpacingMinutes: string;
};

function oneOf<T extends string>(value: string, options: { value: T }[], fallback: T): T {
  return options.find((option) => option.value === value)?.value ?? fallback;
}

/** The form's values from the account, or the API's defaults for a tenant that has none yet. */
export function readTelephony(account: TelephonyAccount | null): TelephonyForm {
  return {
    provider: account?.provider === "sandbox" ? "sandbox" : "twilio",
    accountSid: account?.account_sid ?? "",
    newAuthToken: "",
    clearAuthToken: false,
    callerIds: account?.caller_ids.join("\n") ?? "",
    agentNumber: account?.agent_number ?? "",
    concurrentCallLimit: String(account?.concurrent_call_limit ?? 5),
    callsPerSecond: String(account?.calls_per_second ?? 1),
    ringTimeoutSeconds: String(account?.ring_timeout_seconds ?? 30),
    recordingEnabled: account?.recording_enabled ?? false,
    voicemailPolicy: oneOf(account?.voicemail_policy ?? "", VOICEMAIL_POLICIES, "hang_up"),
    voicemailMessage: account?.voicemail_message ?? "",
    humanAnswerMode: oneOf(account?.human_answer_mode ?? "", HUMAN_ANSWER_MODES, "message"),
    answerMessage: account?.answer_message ?? "",
    inboundRouting: oneOf(account?.inbound_routing ?? "", INBOUND_ROUTINGS, "voicemail"),
    retryMaxAttempts: String(account?.retry_max_attempts ?? 1),
    retrySpacingMinutes: String(account?.retry_spacing_minutes ?? 60),
  };
}

/** The body of the PUT: the form's values over the account (or the API's defaults). */
export function telephonyBody(form: TelephonyForm, current: TelephonyAccount | null): Update {
  const defaults = readTelephony(null);
  const number = (value: string, fallback: string) => typedNumber(value, Number(fallback));
  return {
    provider: form.provider,
    account_sid: form.accountSid.trim(),
    auth_token: form.clearAuthToken ? "" : form.newAuthToken.trim() || null,
    caller_ids: form.callerIds
      .split(/[\n,]/)
      .map((id) => id.trim())
      .filter(Boolean),
    agent_number: form.agentNumber.trim() || null,
    concurrent_call_limit: number(form.concurrentCallLimit, defaults.concurrentCallLimit),
    calls_per_second: number(form.callsPerSecond, defaults.callsPerSecond),
    ring_timeout_seconds: number(form.ringTimeoutSeconds, defaults.ringTimeoutSeconds),
    recording_enabled: form.recordingEnabled,
    voicemail_policy: form.voicemailPolicy,
    voicemail_message: form.voicemailMessage,
    human_answer_mode: form.humanAnswerMode,
    answer_message: form.answerMessage,
    inbound_routing: form.inboundRouting,
    retry_max_attempts: number(form.retryMaxAttempts, defaults.retryMaxAttempts),
    retry_spacing_minutes: number(form.retrySpacingMinutes, defaults.retrySpacingMinutes),
    // Left out for a new account: the API fills in its own defaults. (The generated type lists every field that
    // has a default as required, hence the cast.)
    ...(current
      ? { recording_consent_prompt: current.recording_consent_prompt, voice_script: current.voice_script }
      : {}),
  } as Update;
}
