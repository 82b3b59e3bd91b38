// The reply box of a conversation: free text inside the customer-service window, an approved template outside it,
// nothing once the lead opted out. The reason is shown whenever something cannot be sent.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorMessage, unwrap, type Schemas } from "../api/client";
import { dateTime, relativeTime } from "../lib/format";
import { pickTemplate, splitParameters, templateLabel } from "../lib/templates";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";
import { Field, Form } from "./Form";
import { ErrorLine } from "./States";

function newRequestId(): string {
  return crypto.randomUUID();
}

export function replyBlocked(conversation: Schemas["ConversationPublic"]): string | null {
  if (conversation.opted_out_at) {
    return `The lead opted out of WhatsApp ${relativeTime(conversation.opted_out_at)} (${dateTime(conversation.opted_out_at)}): nothing can be sent.`;
  }
  return null;
}

/** Why only a template can go to a lead who never wrote (on a provider with the 24-hour window). */
export const NOT_WRITTEN_YET =
  "The lead has not written yet, so the 24-hour window is not open: only an approved template can be sent.";

export function windowClosedReason(conversation: Schemas["ConversationPublic"]): string | null {
  if (conversation.free_text !== "closed") return null;
  if (!conversation.window_closes_at) return NOT_WRITTEN_YET;
  return `The 24-hour window closed ${relativeTime(conversation.window_closes_at)}: only an approved template can be sent.`;
}

export function ReplyBox({ leadId, conversation }: { leadId: string; conversation: Schemas["ConversationPublic"] }) {
  const blocked = replyBlocked(conversation);
  if (blocked) {
    return (
      <p className="reply-blocked" role="note">
        {blocked}
      </p>
    );
  }
  return <MessageComposer leadId={leadId} templateOnly={windowClosedReason(conversation)} />;
}

/**
 * The form that sends a WhatsApp message to the lead: free text, or with `templateOnly` (why free text cannot go
 * now) an approved template's name, language and parameters. `first`: the lead has no conversation yet.
 */
export function MessageComposer({
  leadId,
  templateOnly,
  first = false,
}: {
  leadId: string;
  templateOnly: string | null;
  first?: boolean;
}) {
  const invalidate = useInvalidate();
  const { values, field, set, reset } = useForm({
    text: "",
    template: "",
    language: "en_US",
    parameters: "",
    parametersHint: "",
  });
  const { text, template, language, parameters, parametersHint } = values;
  // One id per message being written: a retry after a lost answer never sends it twice.
  const [requestId, setRequestId] = useState(newRequestId);

  const send = useMutation({
    mutationFn: (body: Schemas["MessageSend"]) =>
      unwrap(api.POST("/api/v1/leads/{lead_id}/messages", { params: { path: { lead_id: leadId } }, body })),
    onSuccess: () => {
      reset("text");
      setRequestId(newRequestId());
      // A first message makes the conversation: the lead's page and the inbox show it from now on.
      void invalidate(["messages", leadId], ["conversation", leadId], ["conversations"]);
    },
  });

  function submit() {
    if (templateOnly) {
      const split = splitParameters(parameters);
      send.mutate({ template, template_language: language, template_parameters: split, request_id: requestId });
    } else {
      send.mutate({ text, request_id: requestId });
    }
  }

  return (
    <Form className="reply" onSubmit={submit} aria-label={first ? "First message to the lead" : "Reply to the lead"}>
      {templateOnly ? (
        <>
          <p className="reply-blocked" role="note">
            {templateOnly}
          </p>
          <TemplatePicker
            onPick={(known) => {
              const picked = pickTemplate(known, { language });
              set("template")(picked.template);
              set("language")(picked.language);
              set("parametersHint")(picked.parametersHint);
            }}
          />
          <div className="row">
            <Field label="Template name" {...field("template")} required />
            <Field label="Language" {...field("language")} required />
            <Field
              label="Parameters (comma-separated)"
              {...field("parameters")}
              placeholder={parametersHint || undefined}
            />
          </div>
        </>
      ) : (
        <Field label={first ? "Your message" : "Your reply"} {...field("text")} rows={3} required />
      )}
      <ErrorLine error={send.error} />
      <button type="submit" disabled={send.isPending}>
        {send.isPending ? "Sending…" : templateOnly ? "Send template" : "Send"}
      </button>
    </Form>
  );
}

/** The templates the tenant's sequences name or its messages were sent with; choosing one fills the form. */
function TemplatePicker({ onPick }: { onPick: (template: Schemas["WhatsAppTemplatePublic"]) => void }) {
  const templates = useQuery({
    queryKey: ["whatsapp-templates"],
    queryFn: () => unwrap(api.GET("/api/v1/whatsapp/templates")),
    staleTime: 60_000,
  });
  if (templates.error) {
    return (
      <p className="error" role="alert">
        Known templates could not be loaded: {errorMessage(templates.error)}
      </p>
    );
  }
  if (!templates.data || templates.data.length === 0) return null;
  const list = templates.data;
  return (
    <label>
      Known template
      <select
        defaultValue=""
        onChange={(e) => {
          const chosen = list[Number(e.target.value)];
          if (chosen) onPick(chosen);
        }}
      >
        <option value="" disabled>
          choose one, or type a name below
        </option>
        {list.map((t, index) => (
          <option key={`${t.name}/${t.language ?? ""}`} value={index}>
            {templateLabel(t)}
          </option>
        ))}
      </select>
    </label>
  );
}
