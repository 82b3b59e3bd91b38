// The lead's calls: history with disposition, duration and recording; the Call control when the tenant has
// telephony; a disposition an agent sets after talking. Refreshes every 2 s while a call rings or lasts.
import { useMutation, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import {
  AGENT_DISPOSITIONS,
  callIsLive,
  dispositionLabel,
  duration,
  localInputToIso,
  type Call,
  type Disposition,
} from "../lib/calls";
import { phone } from "../lib/format";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";
import { CallControl } from "./CallControl";
import { Field, Form, Options, SelectField, Submit } from "./Form";
import { QueryList } from "./States";
import { Time } from "./Time";

function DispositionForm({ call, leadId }: { call: Call; leadId: string }) {
  const invalidate = useInvalidate();
  const { values, field, reset } = useForm({ disposition: "" as Disposition | "", note: "", callbackAt: "" });
  const { disposition, note, callbackAt } = values;
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/calls/{call_id}/disposition", {
          params: { path: { call_id: call.id } },
          body: {
            disposition: disposition as Disposition,
            note: note.trim() || null,
            callback_at: disposition === "callback_requested" ? localInputToIso(callbackAt) : null,
          },
        }),
      ),
    onSuccess: () => {
      reset("note");
      // A disposition may move the lead's status, and adds, replaces or cancels a callback task.
      void invalidate(["calls", leadId], ["timeline", leadId], ["lead", leadId], ["lead-tasks", leadId], ["tasks"]);
    },
  });
  return (
    <Form className="row disposition" onSubmit={() => save.mutate()} aria-label="Set the disposition">
      <SelectField label="Disposition" aria-label="Disposition" {...field("disposition")} required>
        <option value="" disabled>
          choose…
        </option>
        <Options items={AGENT_DISPOSITIONS} label={dispositionLabel} />
      </SelectField>
      {disposition === "callback_requested" && (
        <Field label="Call back at" type="datetime-local" {...field("callbackAt")} required />
      )}
      <Field label="Call note" {...field("note")} maxLength={2000} />
      <Submit pending={save.isPending} disabled={!disposition} error={save.error}>
        Save
      </Submit>
    </Form>
  );
}

function CallRow({ call, leadId, mayDispose }: { call: Call; leadId: string; mayDispose: boolean }) {
  const live = callIsLive(call.status);
  const length = duration(call.duration_seconds);
  return (
    <li data-testid="call">
      <div>
        <strong>{call.direction === "inbound" ? "Inbound" : "Outbound"}</strong> · <Time at={call.created_at} /> ·{" "}
        <span className={live ? "badge" : undefined}>{call.status}</span>
        {length && <> · {length}</>} · <span data-testid="call-disposition">{dispositionLabel(call.disposition)}</span>
        {call.answered_by && call.answered_by !== "human" && <> · answered by {call.answered_by.replaceAll("_", " ")}</>}
      </div>
      <div className="muted">
        {phone(call.from_number)} → {phone(call.to_number)}
        {call.callback_at && (
          <>
            {" "}
            · call back <Time at={call.callback_at} />
          </>
        )}
        {call.disposition_note && <> · “{call.disposition_note}”</>}
      </div>
      {call.recording_url && (
        <a href={call.recording_url} target="_blank" rel="noreferrer">
          Recording{call.recording_duration_seconds ? ` (${duration(call.recording_duration_seconds)})` : ""}
        </a>
      )}
      {mayDispose && !live && <DispositionForm call={call} leadId={leadId} />}
    </li>
  );
}

export function LeadCalls({ leadId }: { leadId: string }) {
  const { me } = useAuth();
  const mayPlace = can(me, "call:place");
  const calls = useQuery({
    queryKey: ["calls", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}/calls", { params: { path: { lead_id: leadId } } })),
    refetchInterval: (query) => (query.state.data?.items.some((c) => callIsLive(c.status)) ? 2000 : false),
  });
  return (
    <section aria-label="Calls">
      <h2>Calls</h2>
      {mayPlace && me?.telephony && me.calls && <CallControl leadId={leadId} options={me.calls} />}
      <QueryList query={calls} what="calls" items={calls.data?.items} empty="No call yet." />
      <ul className="calls">
        {calls.data?.items.map((call) => (
          <CallRow key={call.id} call={call} leadId={leadId} mayDispose={mayPlace} />
        ))}
      </ul>
    </section>
  );
}
