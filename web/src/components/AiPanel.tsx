// The AI agent in an open conversation: who answers the lead (take over / hand back) and the AI drafts waiting for a
// person (approve as written, edit then approve, reject). Decisions go through the API to the workflow that waits on
// the draft; a draft decided elsewhere meanwhile answers 409, shown with its reason.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { draftReason, handlerAction, handlerLabel, type Handler } from "../lib/aiAgent";
import { useInvalidate } from "../lib/useInvalidate";
import { Field } from "./Form";
import { ErrorLine } from "./States";
import { Time } from "./Time";

function useRefreshConversation(leadId: string) {
  const invalidate = useInvalidate();
  return () => void invalidate(["ai-drafts", leadId], ["conversation", leadId], ["conversations"], ["messages", leadId]);
}

export function HandlerControl({ leadId, handler }: { leadId: string; handler: Handler }) {
  const refresh = useRefreshConversation(leadId);
  const action = handlerAction(handler);
  const change = useMutation({
    mutationFn: (next: "ai" | "human") =>
      unwrap(
        api.PUT("/api/v1/ai/leads/{lead_id}/handler", {
          params: { path: { lead_id: leadId } },
          body: { handler: next },
        }),
      ),
    onSuccess: refresh,
  });
  return (
    <div className="handler" data-testid="handler" data-handler={handler}>
      <span>{handlerLabel(handler)}</span>
      <button type="button" disabled={change.isPending} onClick={() => change.mutate(action.next)}>
        {action.label}
      </button>
      <ErrorLine error={change.error} />
    </div>
  );
}

function Draft({ draft }: { draft: Schemas["DraftPublic"] }) {
  const refresh = useRefreshConversation(draft.lead_id);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(draft.text);
  const decide = useMutation({
    mutationFn: (decision: { approve: boolean; text?: string }) => {
      const path = { params: { path: { draft_id: draft.id } } };
      return unwrap(
        decision.approve
          ? api.POST("/api/v1/ai/drafts/{draft_id}/approve", { ...path, body: { text: decision.text ?? null } })
          : api.POST("/api/v1/ai/drafts/{draft_id}/reject", { ...path, body: { reason: null } }),
      );
    },
    onSuccess: refresh,
    onError: refresh, // decided elsewhere, withdrawn or expired meanwhile: show what is left
  });
  return (
    <li className="draft" data-testid="ai-draft">
      <p className="draft-why">{draftReason(draft.reason)}</p>
      {editing ? (
        <Field label="Edit the reply" value={text} rows={3} onChange={setText} />
      ) : (
        <blockquote>{draft.text}</blockquote>
      )}
      <small>
        written <Time at={draft.created_at} /> (agent settings v{draft.settings_version})
      </small>
      <div className="row">
        {editing ? (
          <>
            <button
              type="button"
              className="primary"
              disabled={decide.isPending || !text.trim()}
              onClick={() => decide.mutate({ approve: true, text: text.trim() })}
            >
              Send edited reply
            </button>
            <button type="button" disabled={decide.isPending} onClick={() => setEditing(false)}>
              Cancel edit
            </button>
          </>
        ) : (
          <>
            <button
              type="button"
              className="primary"
              disabled={decide.isPending}
              onClick={() => decide.mutate({ approve: true })}
            >
              Approve and send
            </button>
            <button type="button" disabled={decide.isPending} onClick={() => setEditing(true)}>
              Edit
            </button>
          </>
        )}
        <button type="button" disabled={decide.isPending} onClick={() => decide.mutate({ approve: false })}>
          Reject
        </button>
      </div>
      <ErrorLine error={decide.error} />
    </li>
  );
}

export function AiDrafts({ leadId }: { leadId: string }) {
  const drafts = useQuery({
    queryKey: ["ai-drafts", leadId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/ai/drafts", { params: { query: { status: "pending", lead_id: leadId } } })),
  });
  const items = drafts.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <section className="ai-drafts" aria-label="AI drafts">
      <h3>AI draft waiting for approval</h3>
      <ul>
        {items.map((draft) => (
          <Draft key={draft.id} draft={draft} />
        ))}
      </ul>
    </section>
  );
}
