import { describe, expect, it } from "vitest";
import { readSettings, settingsBody, toggle } from "./sequenceSettings";

describe("sequence settings", () => {
  it("reads the API's defaults for what a sequence leaves out", () => {
    expect(readSettings({})).toEqual({
      exitOnReply: true,
      exitOnStages: ["won", "lost", "opted_out"],
      days: ["mon", "tue", "wed", "thu", "fri"],
      start: "09:00",
      end: "18:00",
      fallbackTimezone: "",
      dailyCap: "",
      perMinute: "",
    });
  });
  it("round-trips what the API holds, days in week order and blanks as none", () => {
    const api = {
      exit_on_reply: false,
      exit_on_stages: ["won"],
      business_hours: { days: ["sun", "sat"], start: "10:00", end: "14:00" },
      fallback_timezone: "Europe/Madrid",
      daily_cap: { whatsapp: 200 },
      send_pacing: { per_minute: null },
    };
    const draft = readSettings(api);
    expect(draft.dailyCap).toBe("200");
    expect(draft.perMinute).toBe("");
    expect(settingsBody(draft)).toEqual({
      ...api,
      business_hours: { days: ["sat", "sun"], start: "10:00", end: "14:00" },
    });
    expect(settingsBody({ ...draft, fallbackTimezone: "  ", dailyCap: " " })).toMatchObject({
      fallback_timezone: null,
      daily_cap: { whatsapp: null },
    });
  });
  it("toggles a value in a list", () => {
    expect(toggle(["mon", "tue"], "tue", false)).toEqual(["mon"]);
    expect(toggle(["mon"], "wed", true)).toEqual(["mon", "wed"]);
    expect(toggle(["mon"], "mon", true)).toEqual(["mon"]);
  });
});
