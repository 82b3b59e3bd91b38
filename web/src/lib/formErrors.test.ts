import { describe, expect, it } from "vitest";
import { formErrors } from "./formErrors";

function refusal(status: number, details: unknown) {
  return Object.assign(new Error("refused"), { status, details });
}

describe("formErrors", () => {
  it("puts each reason of a 422 on the field it names", () => {
    const error = refusal(422, [
      { field: "api_key", reason: "required when mode is draft or auto" },
      { field: "caller_ids.1", reason: "not a number" },
      { field: "caller_ids", reason: "too many" },
    ]);
    const sorted = formErrors(error, ["api_key", "caller_ids"]);
    expect(sorted.byField).toEqual({
      api_key: "required when mode is draft or auto",
      caller_ids: "not a number; too many",
    });
    expect(sorted.rest).toBeNull();
  });
  it("keeps the whole error for the line under the form when a problem names no field of the form", () => {
    const error = refusal(422, [
      { field: "body", reason: "soft budget above the hard one" },
      { field: "model", reason: "too long" },
    ]);
    const sorted = formErrors(error, ["model"]);
    expect(sorted.byField).toEqual({ model: "too long" });
    expect(sorted.rest).toBe(error);
  });
  it("leaves any other refusal to the line under the form", () => {
    const conflict = refusal(409, null);
    expect(formErrors(conflict, ["model"])).toEqual({ byField: {}, rest: conflict });
    expect(formErrors(null, ["model"])).toEqual({ byField: {}, rest: null });
  });
});
