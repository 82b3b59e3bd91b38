// How a lead's timeline reads: who did something (a person's name, not `user:<id>`) and what each event changed.
import type { Schemas } from "../api/client";

export type TimelineEvent = Schemas["TimelineEventPublic"];

// Actors that are no row the API can name: the rest of the string after the kind is an id or a version.
const FIXED_ACTORS: Record<string, string> = {
  lead: "The lead",
  ai: "AI agent",
  ai_agent: "AI agent",
  system: "Automation",
  workflow: "Automation",
  whatsapp: "WhatsApp",
  call: "Phone call",
};

/** Who did it, for people: the name the API resolved for a person, API key or sequence, a label for the rest. */
export function actorLabel(event: Pick<TimelineEvent, "actor" | "actor_name">): string {
  const kind = event.actor.split(":", 1)[0] ?? "";
  const name = event.actor_name;
  if (kind === "user") return name ?? "A former user";
  if (kind === "api_key") return name ? `API key “${name}”` : "A deleted API key";
  if (kind === "sequence") return name ? `Sequence “${name}”` : "A deleted sequence";
  const fixed = FIXED_ACTORS[kind];
  if (fixed) return fixed;
  const words = kind.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const FIELD_LABELS: Record<string, string> = {
  email: "e-mail",
  owner_id: "owner",
  custom_fields: "custom fields",
};

/** What the event did beyond its kind, e.g. "name, owner" for an update; empty when its data says nothing more. */
export function eventSummary(event: Pick<TimelineEvent, "kind" | "data">): string {
  const data = event.data;
  if (event.kind === "status_changed") return `${String(data.from ?? "?")} → ${String(data.to ?? "?")}`;
  if (event.kind === "updated" && Array.isArray(data.fields) && data.fields.length > 0) {
    return data.fields.map((field) => FIELD_LABELS[String(field)] ?? String(field).replaceAll("_", " ")).join(", ");
  }
  if (event.kind === "sequence_enrolled" && typeof data.sequence_name === "string") {
    return typeof data.version === "number" ? `“${data.sequence_name}” v${data.version}` : `“${data.sequence_name}”`;
  }
  if (typeof data.body === "string") return `“${data.body}”`;
  return "";
}
