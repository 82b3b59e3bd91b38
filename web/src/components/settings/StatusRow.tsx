// One of the tenant's lead statuses: edit its label, stage, order and default, or delete it. The API refuses a stage
// change of a status leads are in, the last 'new' one, and deleting one leads are still in (409 with its reason).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { ErrorLine } from "./ErrorLine";

export type Stage = Schemas["StatusCreate"]["stage"];
export const STAGES: Stage[] = ["new", "contacted", "engaged", "qualified", "won", "lost", "unreachable", "opted_out"];

export function StatusRow({ status }: { status: Schemas["StatusPublic"] }) {
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [label, setLabel] = useState(status.label);
  const [stage, setStage] = useState<Stage>(status.stage as Stage);
  const [position, setPosition] = useState(String(status.position));
  const [isDefault, setIsDefault] = useState(status.is_default);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["statuses"] });
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
  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }
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
        <form className="row" onSubmit={submit} aria-label={`Edit status ${status.key}`}>
          <label>
            Label
            <input value={label} onChange={(e) => setLabel(e.target.value)} required maxLength={200} />
          </label>
          <label>
            Stage
            <select value={stage} onChange={(e) => setStage(e.target.value as Stage)}>
              {STAGES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Position
            <input type="number" min={0} max={10000} value={position} onChange={(e) => setPosition(e.target.value)} />
          </label>
          <label className="inline">
            <input type="checkbox" checked={isDefault} onChange={(e) => setIsDefault(e.target.checked)} />
            New leads start here
          </label>
          <button type="submit" className="primary" disabled={save.isPending}>
            Save
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      )}
      <ErrorLine error={save.error ?? remove.error} />
    </li>
  );
}
