// A form's values kept as one state, so a form declares its fields once instead of a useState a field.
import { useState } from "react";

/**
 * `values` as the inputs have them; `field(name)` is the value and setter an input takes, `set(name)` the setter
 * alone and `reset(...names)` puts those fields back as they started (after a save, say).
 */
export function useForm<T extends Record<string, unknown>>(initial: T) {
  const [values, setValues] = useState(initial);
  const set =
    <K extends keyof T>(name: K) =>
    (value: T[K]) =>
      setValues((current) => ({ ...current, [name]: value }));
  const field = <K extends keyof T>(name: K) => ({ value: values[name], onChange: set(name) });
  const reset = (...names: (keyof T)[]) =>
    setValues((current) => ({ ...current, ...Object.fromEntries(names.map((name) => [name, initial[name]])) }));
  return { values, set, field, reset };
}
