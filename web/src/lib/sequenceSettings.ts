// A sequence's settings beside its steps (domain/sequences/definition.py SequenceSettings): exit rules, business
// hours in the lead's zone, the fallback zone, the daily WhatsApp cap and the pacing of a bulk start. The builder
// edits them as form values; `settingsBody` is what the API is sent (blank numbers: no cap, no pacing).

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const EXIT_STAGES = ["contacted", "engaged", "qualified", "won", "lost", "unreachable", "opted_out"] as const;

export interface SettingsDraft {
  exitOnReply: boolean;
  exitOnStages: string[];
  days: Weekday[];
  start: string;
  end: string;
  fallbackTimezone: string;
  dailyCap: string;
  perMinute: string;
}

type Raw = Record<string, unknown>;

function object(value: unknown): Raw {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Raw) : {};
}

function text(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function count(value: unknown): string {
  return typeof value === "number" ? String(value) : "";
}

/** The form's values from the API's `settings` (missing fields take the API's defaults). */
export function readSettings(raw: unknown): SettingsDraft {
  const settings = object(raw);
  const hours = object(settings.business_hours);
  const days = Array.isArray(hours.days)
    ? hours.days.filter((d): d is Weekday => (WEEKDAYS as readonly string[]).includes(d as string))
    : ["mon", "tue", "wed", "thu", "fri"];
  return {
    exitOnReply: typeof settings.exit_on_reply === "boolean" ? settings.exit_on_reply : true,
    exitOnStages: Array.isArray(settings.exit_on_stages)
      ? settings.exit_on_stages.map(String)
      : ["won", "lost", "opted_out"],
    days: days as Weekday[],
    start: text(hours.start, "09:00"),
    end: text(hours.end, "18:00"),
    fallbackTimezone: text(settings.fallback_timezone, ""),
    dailyCap: count(object(settings.daily_cap).whatsapp),
    perMinute: count(object(settings.send_pacing).per_minute),
  };
}

function number(value: string): number | null {
  const trimmed = value.trim();
  return trimmed === "" ? null : Number(trimmed);
}

/** What the API is sent: days in week order; a blank cap or pacing is none. The API validates the rest. */
export function settingsBody(draft: SettingsDraft): Record<string, unknown> {
  return {
    exit_on_reply: draft.exitOnReply,
    exit_on_stages: draft.exitOnStages,
    business_hours: {
      days: WEEKDAYS.filter((d) => draft.days.includes(d)),
      start: draft.start,
      end: draft.end,
    },
    fallback_timezone: draft.fallbackTimezone.trim() || null,
    daily_cap: { whatsapp: number(draft.dailyCap) },
    send_pacing: { per_minute: number(draft.perMinute) },
  };
}

/** Toggle `value` in `list`, keeping the rest in order. */
export function toggle<T>(list: readonly T[], value: T, on: boolean): T[] {
  const without = list.filter((v) => v !== value);
  return on ? [...without, value] : without;
}
