// Form pieces the same everywhere: a form that submits in place, labelled inputs, selects and checkboxes.
import type { ComponentProps, FormEvent, ReactNode } from "react";
import { ErrorLine } from "./States";

/** A form whose submit calls `onSubmit` instead of loading a page. */
export function Form({ onSubmit, ...form }: Omit<ComponentProps<"form">, "onSubmit"> & { onSubmit: () => void }) {
  function submit(event: FormEvent) {
    event.preventDefault();
    onSubmit();
  }
  return <form {...form} onSubmit={submit} />;
}

type Labelled<Props, Value> = Omit<Props, "value" | "onChange" | "className"> & {
  label: ReactNode;
  value: Value;
  onChange: (value: Value) => void;
  /** The label's class. */
  className?: string;
  /** The API's reason this field was refused (lib/formErrors.ts), shown under it. */
  problem?: string;
};

/** A field's refusal, under the field it is about. */
function Problem({ problem }: { problem?: string }) {
  if (!problem) return null;
  return (
    <span className="error" role="alert">
      {problem}
    </span>
  );
}

/** The submit button, disabled while the change is `pending` (or when `disabled`), then the change's error line. */
export function Submit({
  pending,
  error,
  disabled,
  className,
  children,
}: {
  pending: boolean;
  error: unknown;
  disabled?: boolean;
  className?: string;
  children: ReactNode;
}) {
  return (
    <>
      <button type="submit" className={className} disabled={pending || disabled}>
        {children}
      </button>
      <ErrorLine error={error} />
    </>
  );
}

/** A label with its text, then the input (a textarea with `rows`) that edits `value`, its problem, any `children`. */
export function Field({
  label,
  value,
  onChange,
  className,
  rows,
  problem,
  children,
  ...input
}: Labelled<ComponentProps<"input">, string> & { rows?: number }) {
  return (
    <label className={className}>
      {label}
      {rows ? (
        <textarea
          {...(input as ComponentProps<"textarea">)}
          rows={rows}
          value={value}
          aria-invalid={problem ? true : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      ) : (
        <input
          {...input}
          value={value}
          aria-invalid={problem ? true : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      <Problem problem={problem} />
      {children}
    </label>
  );
}

/** A label with its text, then the select of `children` options that edits `value`, then its problem. */
export function SelectField<Value extends string>({
  label,
  value,
  onChange,
  className,
  problem,
  children,
  ...select
}: Labelled<ComponentProps<"select">, Value>) {
  return (
    <label className={className}>
      {label}
      <select
        {...select}
        value={value}
        aria-invalid={problem ? true : undefined}
        onChange={(e) => onChange(e.target.value as Value)}
      >
        {children}
      </select>
      <Problem problem={problem} />
    </label>
  );
}

/** An inline label: the checkbox that edits `checked`, then its text. */
export function Checkbox({
  label,
  checked,
  onChange,
  ...input
}: Omit<ComponentProps<"input">, "checked" | "onChange" | "type"> & {
  label: ReactNode;
  checked: boolean;
  onChange: (checked: boolean) => void;
}) {
  return (
    <label className="inline">
      <input {...input} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  );
}

/** One option a value, shown as itself or as `label` says. */
export function Options<T>({
  items,
  value,
  label,
}: {
  items: readonly T[];
  value?: (item: T) => string;
  label?: (item: T) => ReactNode;
}) {
  const key = value ?? String;
  return items.map((item) => (
    <option key={key(item)} value={key(item)}>
      {label ? label(item) : key(item)}
    </option>
  ));
}
