import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, ApiError, errorMessage, unwrap, type Schemas } from "../api/client";
import { Field, Form, SelectField } from "../components/Form";
import { SequenceSettingsEditor } from "../components/SequenceSettingsEditor";
import { newStep, StepEditor, StepTypeOptions, type DraftStep, type StepType } from "../components/StepEditor";
import { PathMessages } from "../components/PathMessages";
import { useStatuses } from "../lib/queries";
import { problemsLine, sortErrors } from "../lib/sequenceErrors";
import { readSettings, settingsBody } from "../lib/sequenceSettings";

/**
 * The builder: name and steps, saved as the draft (a new sequence, or the draft of an existing one). `readOnly`
 * shows the draft to people who may read sequences but not change them. `saved` says the draft shown is the one
 * just saved: the page re-keys the builder on the saved draft (to show it as the API stored it), so the
 * confirmation lives with the page, which `onSaved` tells.
 */
export function SequenceEditor({
  sequence,
  readOnly = false,
  saved = false,
  onSaved,
}: {
  sequence?: Schemas["SequencePublic"];
  readOnly?: boolean;
  saved?: boolean;
  onSaved?: (saved: Schemas["SequencePublic"]) => void;
}) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [name, setName] = useState(sequence?.name ?? "");
  const [steps, setSteps] = useState<DraftStep[]>(
    (sequence?.steps as DraftStep[] | undefined) ?? [newStep("send_whatsapp")],
  );
  const [settings, setSettings] = useState(() => readSettings(sequence?.settings));
  const [adding, setAdding] = useState<StepType>("wait");
  const statuses = useStatuses();
  const save = useMutation({
    mutationFn: () =>
      sequence
        ? unwrap(
            api.PATCH("/api/v1/sequences/{sequence_id}", {
              params: { path: { sequence_id: sequence.id } },
              body: { name, steps, settings: settingsBody(settings) },
            }),
          )
        : unwrap(api.POST("/api/v1/sequences", { body: { name, steps, settings: settingsBody(settings) } })),
    onSuccess: (stored) => {
      onSaved?.(stored);
      queryClient.setQueryData(["sequence", stored.id], stored);
      void queryClient.invalidateQueries({ queryKey: ["sequences"] });
      if (!sequence) navigate(`/sequences/${stored.id}`);
    },
  });
  const errors = save.error instanceof ApiError ? sortErrors(save.error.details) : sortErrors(null);
  const settingsErrors = errors.general.filter((e) => e.path.startsWith("settings"));
  const otherErrors = errors.general.filter((e) => !e.path.startsWith("settings"));
  return (
    <Form className="builder" onSubmit={() => !readOnly && save.mutate()} aria-label="Sequence builder">
      {/* A disabled fieldset disables every control inside it: the steps read as the builder lays them out. */}
      <fieldset className="plain" disabled={readOnly}>
        <Field label="Name" value={name} onChange={setName} required />
        {save.error && (
          <div className="error" role="alert">
            <p>
              {save.error instanceof ApiError && save.error.code === "invalid_sequence"
                ? problemsLine(save.error.details)
                : errorMessage(save.error)}
            </p>
            {otherErrors.length > 0 && <PathMessages errors={otherErrors} />}
          </div>
        )}
        <ol className="steps">
          {steps.map((step, index) => (
            <StepEditor
              key={index}
              index={index}
              step={step}
              errors={errors.byStep.get(index) ?? []}
              statuses={statuses.data ?? []}
              onChange={(changed) => setSteps(steps.map((s, i) => (i === index ? changed : s)))}
              onRemove={readOnly ? undefined : () => setSteps(steps.filter((_, i) => i !== index))}
            />
          ))}
        </ol>
        <SequenceSettingsEditor value={settings} errors={settingsErrors} onChange={setSettings} />
      </fieldset>
      {readOnly ? (
        <p className="muted">Only owners and admins change sequences.</p>
      ) : (
        <div className="row">
          <SelectField label="Add a step" value={adding} onChange={setAdding}>
            <StepTypeOptions />
          </SelectField>
          <button type="button" onClick={() => setSteps([...steps, newStep(adding)])}>
            Add step
          </button>
          <button type="submit" disabled={save.isPending}>
            {sequence ? "Save draft" : "Create sequence"}
          </button>
          {saved && !save.isPending && <span role="status">Draft saved.</span>}
        </div>
      )}
    </Form>
  );
}
