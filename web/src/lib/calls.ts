// How calls read in the app: durations, statuses and dispositions in words, which dispositions a person sets.
import type { Schemas } from "../api/client";

export type Call = Schemas["CallPublic"];
export type Disposition = Schemas["CallDisposition"];

const ENDED = new Set(["completed", "busy", "no-answer", "failed", "canceled"]);

/** Still ringing or talking (its list refreshes until it ends). */
export function callIsLive(status: string): boolean {
  return !ENDED.has(status);
}

/** 75 → "1:15", 3725 → "1:02:05"; null when the call never connected. */
export function duration(seconds: number | null | undefined): string | null {
  if (seconds === null || seconds === undefined) return null;
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

export const DISPOSITION_LABELS: Record<Disposition, string> = {
  no_answer: "No answer",
  busy: "Busy",
  failed: "Failed",
  voicemail_left: "Voicemail left",
  human_connected: "Connected",
  canceled: "Canceled",
  interested: "Interested",
  not_interested: "Not interested",
  callback_requested: "Call back",
  wrong_number: "Wrong number",
  do_not_call: "Do not call",
};

/** What an agent records after talking to the lead (the others the call sets by itself). */
export const AGENT_DISPOSITIONS: readonly Disposition[] = [
  "interested",
  "not_interested",
  "callback_requested",
  "voicemail_left",
  "wrong_number",
  "do_not_call",
];

export function dispositionLabel(disposition: string | null | undefined): string {
  if (!disposition) return "no disposition yet";
  return DISPOSITION_LABELS[disposition as Disposition] ?? disposition.replaceAll("_", " ");
}

/** A datetime-local input's value ("2026-12-05T09:30", the viewer's zone) as an ISO time with its offset. */
export function localInputToIso(value: string): string | null {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}
