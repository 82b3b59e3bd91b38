import { describe, expect, it } from "vitest";
import { dateTime, localTime, phone, relativeTime } from "./format";

describe("relativeTime", () => {
  const now = new Date("2026-12-04T12:00:00Z");
  it("says just now within 45 seconds either way", () => {
    expect(relativeTime("2026-12-04T11:59:30Z", now)).toBe("just now");
    expect(relativeTime("2026-12-04T12:00:40Z", now)).toBe("just now");
  });
  it("picks the largest unit that fits", () => {
    expect(relativeTime("2026-12-04T11:55:00Z", now)).toBe("5 minutes ago");
    expect(relativeTime("2026-12-04T14:00:00Z", now)).toBe("in 2 hours");
    expect(relativeTime("2026-12-03T12:00:00Z", now)).toBe("yesterday");
    expect(relativeTime("2026-11-20T12:00:00Z", now)).toBe("2 weeks ago");
  });
});

describe("dateTime and localTime", () => {
  it("show the moment in the zone asked for", () => {
    expect(dateTime("2026-12-04T17:30:00Z", "UTC")).toBe("Dec 4, 2026, 5:30 PM");
    expect(dateTime("2026-12-04T17:30:00Z", "Asia/Kolkata")).toBe("Dec 4, 2026, 11:00 PM");
    expect(localTime("America/New_York", new Date("2026-12-04T14:05:00Z"))).toBe("9:05 AM");
  });
});

describe("phone", () => {
  it("lays out North American numbers", () => {
    expect(phone("+14155550100")).toBe("+1 (415) 555-0100");
  });
  it("splits the calling code from the rest elsewhere", () => {
    expect(phone("+447911123456")).toBe("+44 791 112 3456");
    expect(phone("+5511987654321")).toBe("+55 119 876 543 21");
    expect(phone("+972501234567")).toBe("+972 501 234 567");
    expect(phone("+79161234567")).toBe("+7 916 123 4567");
  });
  it("leaves what is not E.164 alone", () => {
    expect(phone("0415 555")).toBe("0415 555");
  });
});
