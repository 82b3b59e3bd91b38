// Complete or skip a task with an outcome and a note: the waiting enrollment's workflow moves on at once.
import { useMutation } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";
import { Field } from "./Form";
import { ErrorLine } from "./States";

/** Outcomes offered as you type; any other short text is accepted too. */
export const TASK_OUTCOMES = ["reached", "no answer", "left a voicemail", "meeting booked", "not interested", "wrong number"];

export function TaskActions({ task, onDone }: { task: Schemas["TaskPublic"]; onDone?: () => void }) {
  const invalidate = useInvalidate();
  const { values, field, reset } = useForm({ note: "", outcome: "" });
  const { note, outcome } = values;
  const act = useMutation({
    mutationFn: (action: "complete" | "skip") => {
      const options = { params: { path: { task_id: task.id } }, body: { note: note || null, outcome: outcome.trim() || null } };
      return unwrap(
        action === "complete"
          ? api.POST("/api/v1/tasks/{task_id}/complete", options)
          : api.POST("/api/v1/tasks/{task_id}/skip", options),
      );
    },
    onSuccess: () => {
      reset("note", "outcome");
      void invalidate(["tasks"], ["lead-tasks", task.lead_id], ["enrollments", task.lead_id], ["timeline", task.lead_id]);
      onDone?.();
    },
  });
  return (
    <div className="task-actions">
      <Field label="Outcome" {...field("outcome")} list={`outcomes-${task.id}`} maxLength={80} placeholder="e.g. reached">
        <datalist id={`outcomes-${task.id}`}>
          {TASK_OUTCOMES.map((o) => (
            <option key={o} value={o} />
          ))}
        </datalist>
      </Field>
      <Field label="Note" {...field("note")} placeholder="what happened" />
      <button type="button" className="primary" disabled={act.isPending} onClick={() => act.mutate("complete")}>
        Complete
      </button>
      <button type="button" disabled={act.isPending} onClick={() => act.mutate("skip")}>
        Skip
      </button>
      <ErrorLine error={act.error} />
    </div>
  );
}
