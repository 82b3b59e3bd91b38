// One step of a sequence in the builder: its type and that type's fields, with the API's problems shown under it.
import type { PathMessage } from "../lib/sequenceErrors";

export type StepType = "send_whatsapp" | "wait" | "wait_for_reply" | "task" | "set_status" | "ai_message";
export type DraftStep = Record<string, unknown> & { type: StepType };

export const STEP_TYPES: { type: StepType; label: string }[] = [
  { type: "send_whatsapp", label: "Send WhatsApp" },
  { type: "wait", label: "Wait" },
  { type: "wait_for_reply", label: "Wait for a reply" },
  { type: "task", label: "Task for an agent" },
  { type: "set_status", label: "Set status" },
  { type: "ai_message", label: "AI-written WhatsApp message" },
];

export function newStep(type: StepType): DraftStep {
  switch (type) {
    case "send_whatsapp":
      return { type, text: "" };
    case "wait":
      return { type, duration: "P1D" };
    case "wait_for_reply":
      return { type, timeout: "P3D", on_reply: "exit", on_timeout: "continue" };
    case "task":
      return { type, title: "", due_in: "PT4H", assignee: "lead_owner" };
    case "set_status":
      return { type, status: "" };
    case "ai_message":
      return { type, instructions: "", fallback_text: "", approval: false };
  }
}

interface Props {
  index: number;
  step: DraftStep;
  errors: PathMessage[];
  statuses: { key: string; label: string }[];
  onChange: (step: DraftStep) => void;
  onRemove: () => void;
}

function Text({ label, value, onChange, multiline = false }: {
  label: string;
  value: unknown;
  onChange: (value: string) => void;
  multiline?: boolean;
}) {
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
  return (
    <label>
      {label}
      {multiline ? (
        <textarea rows={2} value={text} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input value={text} onChange={(e) => onChange(e.target.value)} />
      )}
    </label>
  );
}

export function StepEditor({ index, step, errors, statuses, onChange, onRemove }: Props) {
  const set = (field: string) => (value: unknown) => onChange({ ...step, [field]: value });
  return (
    <li className={`step${errors.length ? " invalid" : ""}`} aria-label={`Step ${index + 1}`}>
      <div className="step-head">
        <strong>Step {index + 1}</strong>
        <label>
          Type
          <select value={step.type} onChange={(e) => onChange(newStep(e.target.value as StepType))}>
            {STEP_TYPES.map((t) => (
              <option key={t.type} value={t.type}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={onRemove}>
          Remove
        </button>
      </div>
      <div className="step-fields">
        {step.type === "send_whatsapp" && (
          <>
            <Text label="Message" value={step.text} onChange={set("text")} multiline />
            <Text
              label="Template outside the 24-hour window"
              value={(step.fallback_template as { name?: string } | undefined)?.name ?? ""}
              onChange={(name) => set("fallback_template")(name ? { name } : null)}
            />
          </>
        )}
        {step.type === "ai_message" && (
          <>
            <Text
              label="Instructions for the AI agent"
              value={step.instructions}
              onChange={set("instructions")}
              multiline
            />
            <Text
              label="Fallback text (when the model cannot write it)"
              value={step.fallback_text}
              onChange={set("fallback_text")}
              multiline
            />
            <label className="inline">
              <input
                type="checkbox"
                checked={step.approval === true}
                onChange={(e) => set("approval")(e.target.checked)}
              />
              A person approves it before it goes out
            </label>
            <Text
              label="Template outside the 24-hour window"
              value={(step.fallback_template as { name?: string } | undefined)?.name ?? ""}
              onChange={(name) => set("fallback_template")(name ? { name } : null)}
            />
          </>
        )}
        {step.type === "wait" && (
          <>
            <Text label="Duration (e.g. P2D, PT4H)" value={step.duration} onChange={set("duration")} />
            <label className="inline">
              <input
                type="checkbox"
                checked={step.align_to_business_hours === true}
                onChange={(e) => set("align_to_business_hours")(e.target.checked)}
              />
              End within business hours
            </label>
          </>
        )}
        {step.type === "wait_for_reply" && (
          <>
            <Text label="Timeout (e.g. P3D)" value={step.timeout} onChange={set("timeout")} />
            <label>
              On reply
              <select value={String(step.on_reply)} onChange={(e) => set("on_reply")(e.target.value)}>
                <option value="exit">exit the sequence</option>
                <option value="continue">continue</option>
              </select>
            </label>
            <label>
              On timeout
              <select value={String(step.on_timeout)} onChange={(e) => set("on_timeout")(e.target.value)}>
                <option value="continue">continue</option>
                <option value="exit">exit the sequence</option>
              </select>
            </label>
          </>
        )}
        {step.type === "task" && (
          <>
            <Text label="Task title" value={step.title} onChange={set("title")} />
            <Text label="Due in (e.g. PT4H)" value={step.due_in} onChange={set("due_in")} />
            <Text label="Assignee (lead_owner or a user id)" value={step.assignee} onChange={set("assignee")} />
          </>
        )}
        {step.type === "set_status" && (
          <label>
            Status
            <select value={String(step.status)} onChange={(e) => set("status")(e.target.value)}>
              <option value="">Choose…</option>
              {statuses.map((s) => (
                <option key={s.key} value={s.key}>
                  {s.label}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {errors.length > 0 && (
        <ul className="step-errors" role="alert">
          {errors.map((e) => (
            <li key={`${e.path}:${e.message}`}>
              {e.path && <code>{e.path}</code>} {e.message}
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}
