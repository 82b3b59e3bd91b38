// Which cached answers a live event makes stale. Keys are prefixes: ["leads"] covers every page and search.
import type { LiveMessage } from "./liveEvents";

export type QueryKey = readonly unknown[];

export function staleQueries(message: LiveMessage): QueryKey[] | "all" {
  const leadId = typeof message.data.lead_id === "string" ? message.data.lead_id : null;
  switch (message.type) {
    case "conversation.changed":
      return leadId
        ? [
            ["conversations"],
            ["conversation", leadId],
            ["messages", leadId],
            ["timeline", leadId],
            ["ai-drafts", leadId],
          ]
        : [["conversations"], ["conversation"], ["messages"], ["ai-drafts"]];
    case "lead.changed":
      return leadId ? [["leads"], ["lead", leadId], ["timeline", leadId]] : [["leads"], ["lead"], ["timeline"]];
    case "task.changed":
      return leadId ? [["tasks"], ["lead-tasks", leadId]] : [["tasks"], ["lead-tasks"]];
    case "enrollment.changed":
      return leadId ? [["enrollments", leadId], ["timeline", leadId]] : [["enrollments"]];
    case "notification.created":
      return [["notifications"]];
    default:
      return "all"; // "reset": too much was missed to tell
  }
}
