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

/** A lead's WhatsApp conversation; `retry: false` where its absence (404) is an answer. */
export function useConversation(leadId: string, options: { retry?: false } = {}) {
  return useQuery({
    queryKey: ["conversation", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}/conversation", { params: { path: { lead_id: leadId } } })),
    ...options,
  });
}
