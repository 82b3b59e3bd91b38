import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, errorMessage, unwrap, type Schemas } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { FirstMessage } from "../components/FirstMessage";
import { LeadCalls } from "../components/LeadCalls";
import { LeadTimeline } from "../components/LeadTimeline";
import { ReplyBox } from "../components/ReplyBox";
import { Form, Options, SelectField } from "../components/Form";
import { ErrorLine, QueryList, QueryState } from "../components/States";
import { TaskActions } from "../components/TaskActions";
import { Time } from "../components/Time";
import { localTime, phone } from "../lib/format";
import { temporalLink } from "../lib/links";
import { useConversation, useLead, useStatuses, useUsers } from "../lib/queries";
import { useInvalidate } from "../lib/useInvalidate";
import { Thread } from "./InboxPage";

/** A change's answer (a lead without its owner's name) kept in the page's lead, which has it. */
function useKeepLead(leadId: string) {
  const queryClient = useQueryClient();
  return (updated: Schemas["LeadPublic"]) =>
    queryClient.setQueryData<Schemas["LeadDetail"]>(["lead", leadId], (old) => old && { ...old, ...updated });
}

function Owner({ lead }: { lead: Schemas["LeadDetail"] }) {
  const { me } = useAuth();
  const queryClient = useQueryClient();
  const keep = useKeepLead(lead.id);
  const mayAssign = can(me, "user:read") && can(me, "lead:write");
  const users = useUsers(mayAssign);
  const assign = useMutation({
    mutationFn: (ownerId: string | null) =>
      unwrap(
        api.PATCH("/api/v1/leads/{lead_id}", { params: { path: { lead_id: lead.id } }, body: { owner_id: ownerId } }),
      ),
    onSuccess: (updated) => {
      keep(updated);
      void queryClient.invalidateQueries({ queryKey: ["lead", lead.id] }); // the new owner's name
      void queryClient.invalidateQueries({ queryKey: ["leads"] });
      // The change is an `updated` event on the lead's timeline.
      void queryClient.invalidateQueries({ queryKey: ["timeline", lead.id] });
    },
  });
  if (!mayAssign) {
    const who = !lead.owner_id ? "nobody" : lead.owner_id === me?.user?.id ? "you" : lead.owner_name;
    return <dd data-testid="lead-owner">{who}</dd>;
  }
  return (
    <dd>
      <label className="inline">
        <span className="sr-only">Owner</span>
        <select
          aria-label="Owner"
          value={lead.owner_id ?? ""}
          onChange={(e) => assign.mutate(e.target.value || null)}
          disabled={assign.isPending}
        >
          <option value="">nobody</option>
          {users.data
            ?.filter((u) => u.is_active)
            .map((u) => (
              <option key={u.id} value={u.id}>
                {u.full_name || u.email} ({u.role})
              </option>
            ))}
        </select>
      </label>
      {assign.error && (
        <span className="error" role="alert">
          {" "}
          {errorMessage(assign.error)}
        </span>
      )}
    </dd>
  );
}

function StatusChange({ lead }: { lead: Schemas["LeadDetail"] }) {
  const queryClient = useQueryClient();
  const keep = useKeepLead(lead.id);
  const statuses = useStatuses();
  const [wanted, setWanted] = useState("");
  const change = useMutation({
    mutationFn: (status: string) =>
      unwrap(
        api.POST("/api/v1/leads/{lead_id}/status", { params: { path: { lead_id: lead.id } }, body: { status } }),
      ),
    onSuccess: (updated) => {
      keep(updated);
      void queryClient.invalidateQueries({ queryKey: ["timeline", lead.id] });
      void queryClient.invalidateQueries({ queryKey: ["leads"] });
    },
  });
  return (
    <Form className="status-change" onSubmit={() => wanted && change.mutate(wanted)} aria-label="Change status">
      <SelectField label="New status" value={wanted} onChange={setWanted} required>
        <option value="">Choose…</option>
        <Options
          items={statuses.data?.filter((s) => s.key !== lead.status) ?? []}
          value={(s) => s.key}
          label={(s) => `${s.label} (${s.stage})`}
        />
      </SelectField>
      <button type="submit" disabled={change.isPending || !wanted}>
        Change status
      </button>
      <ErrorLine
        error={change.error}
        prefix={change.error instanceof ApiError && change.error.status === 409 ? "Not allowed: " : ""}
      />
    </Form>
  );
}

function Enrollments({ leadId }: { leadId: string }) {
  const { me } = useAuth();
  const invalidate = useInvalidate();
  const enrollments = useQuery({
    queryKey: ["enrollments", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}/enrollments", { params: { path: { lead_id: leadId } } })),
  });
  const control = useMutation({
    mutationFn: ({ id, action }: { id: string; action: "pause" | "resume" | "stop" }) => {
      const options = { params: { path: { enrollment_id: id } }, body: {} };
      if (action === "pause") return unwrap(api.POST("/api/v1/enrollments/{enrollment_id}/pause", options));
      if (action === "resume") return unwrap(api.POST("/api/v1/enrollments/{enrollment_id}/resume", options));
      return unwrap(api.POST("/api/v1/enrollments/{enrollment_id}/stop", options));
    },
    onSettled: () => invalidate(["enrollments", leadId], ["timeline", leadId]),
  });
  const mayManage = can(me, "enrollment:manage");
  return (
    <section aria-label="Enrollments">
      <h2>Sequences</h2>
      <QueryList query={enrollments} what="enrollments" items={enrollments.data} empty="Not enrolled in any sequence." />
      <ul className="enrollments">
        {enrollments.data?.map((e) => (
          <li key={e.id} data-testid="enrollment">
            <strong>{e.sequence_name}</strong> v{e.sequence_version} · <span className="enrollment-status">{e.status}</span>
            {e.current_step_id && <span> · step {e.current_step_id}</span>}
            {e.exit_reason && <span> · {e.exit_reason}</span>}
            {e.next_action_at && (
              <span>
                {" "}
                · next <Time at={e.next_action_at} />
              </span>
            )}
            {mayManage && (e.status === "active" || e.status === "paused") && (
              <span className="actions">
                {e.status === "active" ? (
                  <button type="button" onClick={() => control.mutate({ id: e.id, action: "pause" })}>
                    Pause
                  </button>
                ) : (
                  <button type="button" onClick={() => control.mutate({ id: e.id, action: "resume" })}>
                    Resume
                  </button>
                )}
                <button type="button" onClick={() => control.mutate({ id: e.id, action: "stop" })}>
                  Stop
                </button>
              </span>
            )}
          </li>
        ))}
      </ul>
      <ErrorLine error={control.error} />
    </section>
  );
}

function LeadTasks({ leadId }: { leadId: string }) {
  const tasks = useQuery({
    queryKey: ["lead-tasks", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/tasks", { params: { query: { lead_id: leadId, assignee: "me" } } })),
  });
  return (
    <section aria-label="Tasks">
      <h2>Open tasks</h2>
      <QueryList query={tasks} what="tasks" items={tasks.data} empty="No open task of yours." />
      <ul className="tasks">
        {tasks.data?.map((task) => (
          <li key={task.id}>
            <strong>{task.title}</strong> · due <Time at={task.due_at} />
            {task.overdue && <span className="badge warn">overdue</span>}
            <TaskActions task={task} />
          </li>
        ))}
      </ul>
      <ClosedTasks leadId={leadId} />
    </section>
  );
}

/** The lead's tasks done or skipped, newest first, with what came of them. */
function ClosedTasks({ leadId }: { leadId: string }) {
  const closed = useQuery({
    queryKey: ["lead-tasks", leadId, "closed"],
    queryFn: async () => {
      const lists = await Promise.all(
        (["completed", "skipped"] as const).map((status) =>
          unwrap(api.GET("/api/v1/tasks", { params: { query: { lead_id: leadId, assignee: "me", status } } })),
        ),
      );
      return lists.flat().sort((a, b) => (b.closed_at ?? "").localeCompare(a.closed_at ?? ""));
    },
  });
  if (!closed.data || closed.data.length === 0) return null;
  return (
    <>
      <h3>Done</h3>
      <ul className="tasks" aria-label="Done tasks">
        {closed.data.map((task) => (
          <li key={task.id} data-testid="closed-task">
            <strong>{task.title}</strong> · {task.status}
            {task.outcome && <> · {task.outcome}</>} {task.closed_at && <Time at={task.closed_at} />}
            {task.note && <p className="muted">{task.note}</p>}
          </li>
        ))}
      </ul>
    </>
  );
}

function LeadConversation({ leadId }: { leadId: string }) {
  const { me } = useAuth();
  const conversation = useConversation(leadId);
  return (
    <section className="thread" aria-label="Conversation">
      <h2>Conversation</h2>
      {conversation.data === null ? (
        <FirstMessage leadId={leadId} />
      ) : (
        <>
          <Thread leadId={leadId} />
          {can(me, "lead:write") && conversation.data && <ReplyBox leadId={leadId} conversation={conversation.data} />}
        </>
      )}
    </section>
  );
}

/** A lead id that names no lead of the tenant: unknown, deleted, another tenant's, or not an id at all (422). */
function NoSuchLead() {
  return (
    <div className="state" role="alert">
      <h1>No such lead</h1>
      <p>
        It may have been deleted, or the link is wrong. <Link to="/leads">Back to the leads</Link>
      </p>
    </div>
  );
}

export function LeadPage() {
  const { leadId = "" } = useParams();
  const { me } = useAuth();
  const lead = useLead(leadId);
  const workflows = temporalLink(me, leadId);
  const unknown = lead.error instanceof ApiError && (lead.error.status === 404 || lead.error.status === 422);
  if (unknown) return <NoSuchLead />;
  if (!lead.data) return <QueryState query={lead} what="the lead" />;
  const data = lead.data;
  return (
    <div className="lead-page">
      <header className="lead-head">
        <h1>{data.name || phone(data.phone)}</h1>
        <span className="stage" data-testid="lead-status">
          {data.status}
        </span>
      </header>
      <dl className="fields">
        <dt>Phone</dt>
        <dd>{phone(data.phone)}</dd>
        <dt>E-mail</dt>
        <dd>{data.email ?? "—"}</dd>
        <dt>Source</dt>
        <dd>{data.source}</dd>
        <dt>Owner</dt>
        <Owner lead={data} />
        <dt>Local time</dt>
        <dd>
          {localTime(data.timezone)} ({data.timezone})
        </dd>
        <dt>Created</dt>
        <dd>
          <Time at={data.created_at} />
        </dd>
        {Object.entries(data.custom_fields).map(([key, value]) => (
          <div key={key} className="custom">
            <dt>{key}</dt>
            <dd>{String(value)}</dd>
          </div>
        ))}
      </dl>
      {workflows && (
        <p>
          <a href={workflows} target="_blank" rel="noreferrer">
            Open the lead's workflows in Temporal
          </a>
        </p>
      )}
      {can(me, "lead:write") && <StatusChange lead={data} />}
      <div className="lead-columns">
        <div>
          <LeadConversation leadId={leadId} />
        </div>
        <div>
          {can(me, "enrollment:read") && <Enrollments leadId={leadId} />}
          {can(me, "task:work") && <LeadTasks leadId={leadId} />}
          {can(me, "call:read") && <LeadCalls leadId={leadId} />}
          <LeadTimeline leadId={leadId} />
        </div>
      </div>
    </div>
  );
}
