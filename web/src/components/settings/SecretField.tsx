// A write-only secret of a settings form (an API key, an auth token): the page says only whether one is stored, never
// its value. A value typed in replaces it, an empty field keeps it, and the checkbox clears it.
import { Checkbox, Field } from "../Form";

export function SecretField({
  label,
  clearLabel,
  stored,
  value,
  onChange,
  clear,
  onClear,
  problem,
}: {
  label: string;
  /** The checkbox that clears the stored value, e.g. "Clear the stored auth token". */
  clearLabel: string;
  stored: boolean;
  value: string;
  onChange: (value: string) => void;
  clear: boolean;
  onClear: (clear: boolean) => void;
  problem?: string;
}) {
  return (
    <>
      <Field
        label={label}
        type="password"
        autoComplete="new-password"
        value={value}
        onChange={onChange}
        disabled={clear}
        placeholder={stored ? "type a new one to replace it" : "not set"}
        problem={problem}
      >
        <small className="muted">{stored ? "set (leave empty to keep it)" : "not set"}</small>
      </Field>
      {stored && <Checkbox label={clearLabel} checked={clear} onChange={onClear} />}
    </>
  );
}
