// The lead's calls: history with disposition, duration and recording; the Call button when the tenant has
// telephony; a disposition an agent sets after talking. Refreshes every 2 s while a call rings or lasts.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, errorMessage, unwrap } from "../api/client";
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
import { Empty, QueryState } from "./States";
import { Time } from "./Time";

function DispositionForm({ call, leadId }: { call: Call; leadId: string }) {
  const queryClient = useQueryClient();
  const [disposition, setDisposition] = useState<Disposition | "">("");
  const [note, setNote] = useState("");
  const [callbackAt, setCallbackAt] = useState("");
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
      setNote("");
      void queryClient.invalidateQueries({ queryKey: ["calls", leadId] });
      void queryClient.invalidateQueries({ queryKey: ["timeline", leadId] });
      void queryClient.invalidateQueries({ queryKey: ["lead", leadId] }); // a disposition may move the status
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }
  return (
    <form className="row disposition" onSubmit={submit} aria-label="Set the disposition">
      <label>
        Disposition
        <select
          aria-label="Disposition"
          value={disposition}
          onChange={(e) => setDisposition(e.target.value as Disposition)}
          required
        >
          <option value="" disabled>
            choose…
          </option>
          {AGENT_DISPOSITIONS.map((d) => (
            <option key={d} value={d}>
              {dispositionLabel(d)}
            </option>
          ))}
        </select>
      </label>
      {disposition === "callback_requested" && (
        <label>
          Call back at
          <input type="datetime-local" value={callbackAt} onChange={(e) => setCallbackAt(e.target.value)} required />
        </label>
      )}
      <label>
        Call note
        <input value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />
      </label>
      <button type="submit" disabled={save.isPending || !disposition}>
        Save
      </button>
      {save.error && (
        <p className="error" role="alert">
          {errorMessage(save.error)}
        </p>
      )}
    </form>
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
  const queryClient = useQueryClient();
  const mayPlace = can(me, "call:place");
  const calls = useQuery({
    queryKey: ["calls", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}/calls", { params: { path: { lead_id: leadId } } })),
    refetchInterval: (query) => (query.state.data?.items.some((c) => callIsLive(c.status)) ? 2000 : false),
  });
  const place = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/leads/{lead_id}/calls", { params: { path: { lead_id: leadId } }, body: { ring_agent_first: true } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["calls", leadId] }),
  });
  return (
    <section aria-label="Calls">
      <div className="toolbar">
        <h2>Calls</h2>
        {mayPlace && me?.telephony && (
          <button type="button" className="primary" disabled={place.isPending} onClick={() => place.mutate()}>
            {place.isPending ? "Calling…" : "Call"}
          </button>
        )}
      </div>
      {mayPlace && me?.telephony && (
        <p className="muted">Your phone rings first; the lead is dialled once you answer.</p>
      )}
      {place.error && (
        <p className="error" role="alert">
          {errorMessage(place.error)}
        </p>
      )}
      <QueryState query={calls} what="calls" />
      {calls.data && calls.data.items.length === 0 && <Empty>No call yet.</Empty>}
      <ul className="calls">
        {calls.data?.items.map((call) => (
          <CallRow key={call.id} call={call} leadId={leadId} mayDispose={mayPlace} />
        ))}
      </ul>
    </section>
  );
}
