import { describe, expect, it } from "vitest";
import { readTelephony, telephonyBody, type TelephonyAccount } from "./telephonySettings";

const account: TelephonyAccount = {
  provider: "twilio",
  account_sid: "AC" + "0".repeat(32),
  has_auth_token: true,
  caller_ids: ["+14155550100", "+14155550101"],
  concurrent_call_limit: 3,
  calls_per_second: 0.5,
  ring_timeout_seconds: 25,
  recording_enabled: true,
  recording_consent_prompt: "We record.",
  voicemail_policy: "drop_message",
  voicemail_message: "Call us back.",
  human_answer_mode: "agent",
  answer_message: "",
  agent_number: "+14155550199",
  voice_script: { opening: "Hi", closing: "Bye", prompts: [], handoff_keywords: ["agent"] },
  retry_max_attempts: 2,
  retry_spacing_minutes: 30,
  inbound_routing: "agent",
  voice_url: "https://example.test/webhooks/twilio/voice/inbound/x",
  updated_at: "2026-01-01T00:00:00Z",
};

describe("the telephony account form", () => {
  it("sends the account back with the stored token, the consent prompt and the voice script kept", () => {
    const body = telephonyBody(readTelephony(account), account);
    expect(body.auth_token).toBeNull();
    expect(body.caller_ids).toEqual(account.caller_ids);
    expect(body.calls_per_second).toBe(0.5);
    expect(body.recording_consent_prompt).toBe("We record.");
    expect(body.voice_script).toEqual(account.voice_script);
  });
  it("starts a new account from the API's defaults and leaves the rest to them", () => {
    const form = readTelephony(null);
    expect([form.provider, form.concurrentCallLimit, form.voicemailPolicy, form.inboundRouting]).toEqual([
      "twilio",
      "5",
      "hang_up",
      "voicemail",
    ]);
    const body = telephonyBody({ ...form, newAuthToken: "tok", callerIds: "+14155550100, +14155550101\n" }, null);
    expect(body.auth_token).toBe("tok");
    expect(body.caller_ids).toEqual(["+14155550100", "+14155550101"]);
    expect("recording_consent_prompt" in body || "voice_script" in body).toBe(false);
  });
  it("clears the token when asked", () => {
    expect(telephonyBody({ ...readTelephony(account), clearAuthToken: true }, account).auth_token).toBe("");
  });
});
