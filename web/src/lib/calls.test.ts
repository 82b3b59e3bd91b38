import { describe, expect, it } from "vitest";
import { AGENT_DISPOSITIONS, callIsLive, dispositionLabel, duration, localInputToIso } from "./calls";

describe("calls", () => {
  it("formats durations as m:ss or h:mm:ss", () => {
    expect(duration(0)).toBe("0:00");
    expect(duration(75)).toBe("1:15");
    expect(duration(3725)).toBe("1:02:05");
    expect(duration(null)).toBeNull();
  });
  it("tells live calls from ended ones", () => {
    for (const status of ["queued", "dialing", "ringing", "in-progress"]) expect(callIsLive(status)).toBe(true);
    for (const status of ["completed", "busy", "no-answer", "failed", "canceled"]) expect(callIsLive(status)).toBe(false);
  });
  it("names dispositions in words, unknown ones readably", () => {
    expect(dispositionLabel("callback_requested")).toBe("Call back");
    expect(dispositionLabel(null)).toBe("no disposition yet");
    expect(dispositionLabel("left_early")).toBe("left early");
    expect(AGENT_DISPOSITIONS).not.toContain("human_connected");
  });
  it("reads a datetime-local value in the viewer's zone", () => {
    expect(localInputToIso("")).toBeNull();
    expect(localInputToIso("2026-12-05T09:30")).toBe(new Date(2026, 11, 5, 9, 30).toISOString());
  });
});
