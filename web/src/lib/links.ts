import type { Me } from "../api/client";

/** The Temporal Web UI's list of a lead's workflows (search attribute LeadId), for those the API gives its address to. */
export function temporalLink(me: Me | null | undefined, leadId: string): string | null {
  if (!me?.temporal_ui) return null;
  const { url, namespace } = me.temporal_ui;
  const query = encodeURIComponent(`LeadId="${leadId}"`);
  return `${url.replace(/\/$/, "")}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${query}`;
}
