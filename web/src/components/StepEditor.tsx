// One step of a sequence in the builder: its type and that type's fields, with the API's problems shown under it.
import type { PathMessage } from "../lib/sequenceErrors";
import { Checkbox, Field, Options, SelectField } from "./Form";
import { PathMessages } from "./PathMessages";

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
  /** Absent where the step may not be removed (a read-only sequence). */
  onRemove?: () => void;
}

/** The step types as options of a select. */
export function StepTypeOptions() {
  return <Options items={STEP_TYPES} value={(t) => t.type} label={(t) => t.label} />;
}

function Text({ label, value, onChange, multiline = false }: {
  label: string;
  value: unknown;
  onChange: (value: string) => void;
  multiline?: boolean;
}) {
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
  return <Field label={label} value={text} onChange={onChange} rows={multiline ? 2 : undefined} />;
}

/** The field naming the WhatsApp template sent instead once the 24-hour window has closed. */
function FallbackTemplate({ step, set }: { step: DraftStep; set: (field: string) => (value: unknown) => void }) {
  return (
    <Text
      label="Template outside the 24-hour window"
      value={(step.fallback_template as { name?: string } | undefined)?.name ?? ""}
      onChange={(name) => set("fallback_template")(name ? { name } : null)}
    />
  );
}

export function StepEditor({ index, step, errors, statuses, onChange, onRemove }: Props) {
  const set = (field: string) => (value: unknown) => onChange({ ...step, [field]: value });
  return (
    <li className={`step${errors.length ? " invalid" : ""}`} aria-label={`Step ${index + 1}`}>
      <div className="step-head">
        <strong>Step {index + 1}</strong>
        <SelectField label="Type" value={step.type} onChange={(type) => onChange(newStep(type))}>
          <StepTypeOptions />
        </SelectField>
        {onRemove && (
          <button type="button" onClick={onRemove}>
            Remove
          </button>
        )}
      </div>
      <div className="step-fields">
        {step.type === "send_whatsapp" && (
          <>
            <Text label="Message" value={step.text} onChange={set("text")} multiline />
            <FallbackTemplate step={step} set={set} />
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
            <Checkbox
              label="A person approves it before it goes out"
              checked={step.approval === true}
              onChange={set("approval")}
            />
            <FallbackTemplate step={step} set={set} />
          </>
        )}
        {step.type === "wait" && (
          <>
            <Text label="Duration (e.g. P2D, PT4H)" value={step.duration} onChange={set("duration")} />
            <Checkbox
              label="End within business hours"
              checked={step.align_to_business_hours === true}
              onChange={set("align_to_business_hours")}
            />
          </>
        )}
        {step.type === "wait_for_reply" && (
          <>
            <Text label="Timeout (e.g. P3D)" value={step.timeout} onChange={set("timeout")} />
            <SelectField label="On reply" value={String(step.on_reply)} onChange={set("on_reply")}>
              <option value="exit">exit the sequence</option>
              <option value="continue">continue</option>
            </SelectField>
            <SelectField label="On timeout" value={String(step.on_timeout)} onChange={set("on_timeout")}>
              <option value="continue">continue</option>
              <option value="exit">exit the sequence</option>
            </SelectField>
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
          <SelectField label="Status" value={String(step.status)} onChange={set("status")}>
            <option value="">Choose…</option>
            <Options items={statuses} value={(s) => s.key} label={(s) => s.label} />
          </SelectField>
        )}
      </div>
      {errors.length > 0 && (
        <PathMessages className="step-errors" role="alert" errors={errors} />
      )}
    </li>
  );
}
