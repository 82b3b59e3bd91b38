// The API's 422 names the field of each problem (`details: [{field, reason}]`, a nested one as "caller_ids.0"): a
// settings form shows each reason next to its field, and what no field of the form shows under the form. Pure:
// unit-tested in formErrors.test.ts.

export interface FormErrors {
  /** The reason(s) of each field the form shows, by the field's API name. */
  byField: Partial<Record<string, string>>;
  /** The error for the line under the form: any refusal other than a 422 on the form's fields, else null. */
  rest: unknown;
}

function problems(error: unknown): { field: string; reason: string }[] | null {
  if (!error || typeof error !== "object") return null;
  const { status, details } = error as { status?: unknown; details?: unknown };
  if (status !== 422 || !Array.isArray(details) || details.length === 0) return null;
  return details.map((item) => {
    const { field, reason } = (item && typeof item === "object" ? item : {}) as Record<string, unknown>;
    return { field: String(field ?? ""), reason: String(reason ?? "invalid") };
  });
}

/** Sorts `error` (an ApiError or anything thrown) between the form's `fields` and the line under the form. */
export function formErrors(error: unknown, fields: readonly string[]): FormErrors {
  const listed = problems(error);
  if (!listed) return { byField: {}, rest: error ?? null };
  const byField: Partial<Record<string, string>> = {};
  let unplaced = false;
  for (const { field, reason } of listed) {
    // "caller_ids.0" and "voice_script.opening" belong to the field that holds them.
    const name = fields.includes(field) ? field : (field.split(/[.[]/)[0] ?? "");
    if (fields.includes(name)) byField[name] = byField[name] ? `${byField[name]}; ${reason}` : reason;
    else unplaced = true;
  }
  return { byField, rest: unplaced ? error : null };
}
