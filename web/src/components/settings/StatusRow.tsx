// One of the tenant's lead statuses: edit its label, stage, order and default, or delete it. The API refuses a stage
// change of a status leads are in, the last 'new' one, and deleting one leads are still in (409 with its reason).
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { useForm } from "../../lib/useForm";
import { useInvalidate } from "../../lib/useInvalidate";
import { Checkbox, Field, Form, Options, SelectField } from "../Form";
import { ErrorLine } from "../States";

export type Stage = Schemas["StatusCreate"]["stage"];
export const STAGES: Stage[] = ["new", "contacted", "engaged", "qualified", "won", "lost", "unreachable", "opted_out"];

export function StatusRow({ status }: { status: Schemas["StatusPublic"] }) {
  const invalidate = useInvalidate();
  const [editing, setEditing] = useState(false);
  const { values, field, set } = useForm({
    label: status.label,
    stage: status.stage as Stage,
    position: String(status.position),
    isDefault: status.is_default,
  });
  const { label, stage, position, isDefault } = values;
  const refresh = () => invalidate(["statuses"]);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/api/v1/statuses/{key}", {
          params: { path: { key: status.key } },
          body: {
            label: label.trim(),
            stage,
            position: Number(position),
            ...(isDefault !== status.is_default ? { is_default: isDefault } : {}),
          },
        }),
      ),
    onSuccess: () => {
      setEditing(false);
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/statuses/{key}", { params: { path: { key: status.key } } })),
    onSuccess: refresh,
  });
  return (
    <li data-testid="status">
      {status.label} <code>{status.key}</code> → stage {status.stage}
      {status.is_default && " (new leads start here)"}{" "}
      {!editing && (
        <>
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>{" "}
          <button type="button" disabled={remove.isPending} onClick={() => remove.mutate()}>
            Delete
          </button>
        </>
      )}
      {editing && (
        <Form className="row" onSubmit={() => save.mutate()} aria-label={`Edit status ${status.key}`}>
          <Field label="Label" {...field("label")} required maxLength={200} />
          <SelectField label="Stage" {...field("stage")}>
            <Options items={STAGES} />
          </SelectField>
          <Field label="Position" type="number" min={0} max={10000} {...field("position")} />
          <Checkbox label="New leads start here" checked={isDefault} onChange={set("isDefault")} />
          <button type="submit" className="primary" disabled={save.isPending}>
            Save
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </Form>
      )}
      <ErrorLine error={save.error ?? remove.error} />
    </li>
  );
}
