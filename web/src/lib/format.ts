// Times in the viewer's zone with relative times, and phone numbers laid out for reading.

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

/** "5 minutes ago", "in 2 hours", "just now". */
export function relativeTime(iso: string, now: Date = new Date(), locale = "en"): string {
  const seconds = (new Date(iso).getTime() - now.getTime()) / 1000;
  if (Math.abs(seconds) < 45) return "just now";
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(Math.round(seconds / 60), "minute");
}

/** A moment in the given zone (the viewer's by default): "Dec 4, 2026, 5:30 PM". */
export function dateTime(iso: string, timeZone?: string, locale = "en-US"): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso));
}

/** The time of day somewhere else, e.g. a lead's local time: "9:05 AM". */
export function localTime(timeZone: string, now: Date = new Date(), locale = "en-US"): string {
  return new Intl.DateTimeFormat(locale, { timeStyle: "short", timeZone }).format(now);
}

// Calling codes of two digits; +1 and +7 have one; the rest of the world three (ITU E.164 assignments).
const TWO_DIGIT_CODES = new Set([
  "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
  "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
  "86", "90", "91", "92", "93", "94", "95", "98",
]);

function groups(digits: string): string {
  const parts: string[] = [];
  let rest = digits;
  while (rest.length > 4) {
    parts.push(rest.slice(0, 3));
    rest = rest.slice(3);
  }
  parts.push(rest);
  return parts.join(" ");
}

/** "+14155550100" → "+1 (415) 555-0100"; "+447911123456" → "+44 791 112 3456"; anything else as given. */
export function phone(e164: string): string {
  if (!/^\+\d{8,15}$/.test(e164)) return e164;
  const digits = e164.slice(1);
  if (digits.startsWith("1") && digits.length === 11) {
    return `+1 (${digits.slice(1, 4)}) ${digits.slice(4, 7)}-${digits.slice(7)}`;
  }
  let codeLength = 3;
  if (digits.startsWith("1") || digits.startsWith("7")) codeLength = 1;
  else if (TWO_DIGIT_CODES.has(digits.slice(0, 2))) codeLength = 2;
  return `+${digits.slice(0, codeLength)} ${groups(digits.slice(codeLength))}`;
}
