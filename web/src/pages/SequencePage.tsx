import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Checkbox, Field, Form } from "../components/Form";
import { DataTable, Empty, ErrorLine, QueryState } from "../components/States";
import { dateTime, phone } from "../lib/format";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";
import { SequenceEditor } from "./SequenceEditor";

const SKIP_REASONS: Record<string, string> = {
  already_enrolled: "already enrolled in this sequence",
  opted_out: "opted out",
  terminal_stage: "won, lost or opted out already",
  not_found: "not found",
};

function Preview({ sequenceId }: { sequenceId: string }) {
  const { values, field } = useForm({ phone: "", name: "Alex Sample" });
  const preview = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/sequences/{sequence_id}/preview", {
          params: { path: { sequence_id: sequenceId } },
          body: values,
        }),
      ),
  });
  return (
    <section aria-label="Preview">
      <h2>Preview for a sample lead</h2>
      <Form className="row" onSubmit={() => preview.mutate()}>
        <Field label="Sample phone" {...field("phone")} required />
        <Field label="Sample name" {...field("name")} />
        <button type="submit" disabled={preview.isPending}>
          Preview
        </button>
      </Form>
      <ErrorLine error={preview.error} />
      {preview.data && (
        <>
          <p>
            In the lead's zone, {preview.data.timezone}, from {dateTime(preview.data.start_at, preview.data.timezone)}:
          </p>
          <ol className="timeline" aria-label="Preview timeline">
            {preview.data.steps.map((step) => (
              <li key={`${step.index}-${step.id}`}>
                <strong>{step.type.replaceAll("_", " ")}</strong> at {dateTime(step.fire_at_utc, preview.data.timezone)}
                {step.waited_for_business_hours && " (held for business hours)"}
                {step.text && <span> · “{step.text}”</span>}
                {step.instructions && (
                  <span>
                    {" "}
                    · AI instructions “{step.instructions}”; fallback “{step.fallback_text}”
                    {step.approval && " (approved by a person)"}
                  </span>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

const PICK_PAGE = 25;

type EnrollBody = { lead_ids: string[] } | { filter: { q: string } };

/**
 * Pick leads page by page (ticks are kept across pages), or enroll every lead the search matches at once through
 * the API's filter, which walks all of them whatever their number.
 */
function Enroll({ sequenceId }: { sequenceId: string }) {
  const [q, setQ] = useState("");
  // The cursors of the pages before this one, so "Previous" can go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  // Ticked leads with their names, from whichever page they were ticked on (for the button and the report).
  const [chosen, setChosen] = useState<Map<string, string>>(new Map());
  const search = q.trim();
  const leads = useQuery({
    queryKey: ["leads", { q: search, cursor, for: "enroll" }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/leads", {
          params: { query: { q: search || undefined, cursor: cursor ?? undefined, limit: PICK_PAGE } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const enroll = useMutation({
    mutationFn: (body: EnrollBody) =>
      unwrap(
        api.POST("/api/v1/sequences/{sequence_id}/enrollments", {
          params: { path: { sequence_id: sequenceId } },
          body,
        }),
      ),
  });
  const label = (lead: Schemas["LeadPublic"]) => lead.name || phone(lead.phone);
  const names = new Map([...chosen, ...(leads.data?.items ?? []).map((lead) => [lead.id, label(lead)] as const)]);
  const items = leads.data?.items ?? [];
  const toggle = (lead: Schemas["LeadPublic"], on: boolean) => {
    const next = new Map(chosen);
    if (on) next.set(lead.id, label(lead));
    else next.delete(lead.id);
    setChosen(next);
  };
  const allOnPage = items.length > 0 && items.every((lead) => chosen.has(lead.id));
  const morePages = cursors.length > 1 || !!leads.data?.next_cursor;
  return (
    <section aria-label="Enroll leads">
      <h2>Enroll leads</h2>
      <Field
        label="Find leads"
        type="search"
        value={q}
        onChange={(value) => {
          setQ(value);
          setCursors([null]);
        }}
        placeholder="name, phone or e-mail"
      />
      {items.length > 0 && (
        <Checkbox
          label="All on this page"
          checked={allOnPage}
          onChange={(on) => {
            const next = new Map(chosen);
            for (const lead of items) {
              if (on) next.set(lead.id, label(lead));
              else next.delete(lead.id);
            }
            setChosen(next);
          }}
        />
      )}
      <ul className="pick" aria-label="Leads found">
        {items.map((lead) => (
          <li key={lead.id}>
            <Checkbox
              label={`${label(lead)} · ${lead.status}`}
              checked={chosen.has(lead.id)}
              onChange={(on) => toggle(lead, on)}
            />
          </li>
        ))}
      </ul>
      {morePages && (
        <div className="pager">
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </button>
          <button
            type="button"
            disabled={!leads.data?.next_cursor}
            onClick={() => leads.data?.next_cursor && setCursors([...cursors, leads.data.next_cursor])}
          >
            Next
          </button>
        </div>
      )}
      <div className="row">
        <button
          type="button"
          className="primary"
          disabled={chosen.size === 0 || enroll.isPending}
          onClick={() => enroll.mutate({ lead_ids: [...chosen.keys()] })}
        >
          Enroll {chosen.size} lead{chosen.size === 1 ? "" : "s"}
        </button>
        {search && items.length > 0 && (
          <button type="button" disabled={enroll.isPending} onClick={() => enroll.mutate({ filter: { q: search } })}>
            Enroll every lead matching “{search}”
          </button>
        )}
      </div>
      <ErrorLine error={enroll.error} />
      {enroll.data && (
        <div role="status" className="enroll-report">
          <p>
            {enroll.data.enrolled} enrolled in version {enroll.data.version}, {enroll.data.skipped.length} skipped.
          </p>
          <ul>
            {enroll.data.skipped.map((s) => (
              <li key={s.lead_id}>
                {names.get(s.lead_id) ?? s.lead_id}: {SKIP_REASONS[s.reason] ?? s.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

function Stats({ sequenceId }: { sequenceId: string }) {
  const stats = useQuery({
    queryKey: ["sequence-stats", sequenceId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/sequences/{sequence_id}/stats", { params: { path: { sequence_id: sequenceId } } })),
  });
  if (!stats.data) return <QueryState query={stats} what="stats" />;
  const s = stats.data;
  return (
    <section aria-label="Stats">
      <h2>Stats</h2>
      <p>
        {s.enrolled} enrolled · {s.active} active · {s.paused} paused · {s.completed} completed · {s.exited} exited ·{" "}
        {s.stopped} stopped · {s.replies} replies
      </p>
      {s.steps.length > 0 && (
        <DataTable columns={["Step", "Type", "Sends", "Failures", "Outcomes"]}>
          {s.steps.map((step) => (
            <tr key={step.step_id}>
              <td>{step.step_id}</td>
              <td>{step.type}</td>
              <td>{step.sends}</td>
              <td>{step.failures}</td>
              <td>
                {Object.entries(step.results)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(", ")}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}

export function SequencePage() {
  const { sequenceId = "" } = useParams();
  const { me } = useAuth();
  const mayManage = can(me, "sequence:manage");
  const invalidate = useInvalidate();
  // The draft's `updated_at` as the last save here answered it: "Draft saved." while that draft is the one shown.
  const [savedAt, setSavedAt] = useState<string | null>(null);
  const sequence = useQuery({
    queryKey: ["sequence", sequenceId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/sequences/{sequence_id}", { params: { path: { sequence_id: sequenceId } } })),
  });
  const versions = useQuery({
    queryKey: ["sequence-versions", sequenceId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/sequences/{sequence_id}/versions", { params: { path: { sequence_id: sequenceId } } })),
  });
  const publish = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/sequences/{sequence_id}/publish", { params: { path: { sequence_id: sequenceId } } })),
    onSuccess: () => void invalidate(["sequence", sequenceId], ["sequence-versions", sequenceId]),
  });
  if (!sequence.data) return <QueryState query={sequence} what="the sequence" />;
  const data = sequence.data;
  return (
    <div className="sequence-page">
      <div className="toolbar">
        <h1>{data.name}</h1>
        <span data-testid="sequence-version">
          {data.latest_version ? `version ${data.latest_version}` : "never published"}
          {data.has_unpublished_changes && " · draft has changes"}
        </span>
        {mayManage && (
          <button type="button" className="primary" disabled={publish.isPending} onClick={() => publish.mutate()}>
            Publish
          </button>
        )}
      </div>
      <ErrorLine error={publish.error} />
      <SequenceEditor
        key={data.updated_at}
        sequence={data}
        readOnly={!mayManage}
        saved={savedAt === data.updated_at}
        onSaved={(stored) => setSavedAt(stored.updated_at)}
      />
      <Preview sequenceId={sequenceId} />
      <section aria-label="Versions">
        <h2>Versions</h2>
        {versions.data?.length === 0 && <Empty>Not published yet.</Empty>}
        <ul>
          {versions.data?.map((v) => (
            <li key={v.version}>
              Version {v.version}, published {dateTime(v.published_at)} · {v.steps.length} steps
            </li>
          ))}
        </ul>
      </section>
      {data.latest_version !== null && can(me, "enrollment:manage") && <Enroll sequenceId={sequenceId} />}
      <Stats sequenceId={sequenceId} />
    </div>
  );
}
