// Queries several views read, each under one key so a change seen by one view refreshes them all.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

/** The tenant's lead statuses. */
export function useStatuses() {
  return useQuery({ queryKey: ["statuses"], queryFn: () => unwrap(api.GET("/api/v1/statuses")) });
}

/** The tenant's users, fetched only when `enabled`. */
export function useUsers(enabled = true) {
  return useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/v1/users")), enabled });
}

/** One lead. */
export function useLead(leadId: string) {
  return useQuery({
    queryKey: ["lead", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}", { params: { path: { lead_id: leadId } } })),
  });
}

/**
 * A lead's WhatsApp conversation, null while it has none. Read from the lead's list of conversations, which is empty
 * then, rather than the single conversation's 404, which every page of a lead without one logged as an error.
 */
export function useConversation(leadId: string) {
  return useQuery({
    queryKey: ["conversation", leadId],
    queryFn: async () => {
      const conversations = await unwrap(
        api.GET("/api/v1/leads/{lead_id}/conversations", { params: { path: { lead_id: leadId } } }),
      );
      return conversations.find((conversation) => conversation.channel === "whatsapp") ?? null;
    },
  });
}
