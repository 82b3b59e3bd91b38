import { describe, expect, it } from "vitest";
import { problemsLine, sortErrors } from "./sequenceErrors";

describe("sortErrors", () => {
  it("puts each problem under the step it names and keeps the rest apart", () => {
    const sorted = sortErrors([
      { path: "steps[0].text", message: "unknown variable '{{frist_name}}'" },
      { path: "steps[2].due_in", message: "'P1X' is not a duration" },
      { path: "steps[2].title", message: "unknown variable" },
      { path: "steps[1]", message: "a wait needs a duration" },
      { path: "settings.fallback_timezone", message: "unknown zone Mars/Olympus" },
    ]);
    expect(sorted.byStep.get(0)).toEqual([{ path: "text", message: "unknown variable '{{frist_name}}'" }]);
    expect(sorted.byStep.get(2)?.map((e) => e.path)).toEqual(["due_in", "title"]);
    expect(sorted.byStep.get(1)).toEqual([{ path: "", message: "a wait needs a duration" }]);
    expect(sorted.general).toEqual([{ path: "settings.fallback_timezone", message: "unknown zone Mars/Olympus" }]);
  });
  it("copes with details that are not a list", () => {
    expect(sortErrors(null).general).toEqual([]);
  });
});

describe("problemsLine", () => {
  it("counts the problems instead of repeating them", () => {
    const details = [
      { path: "steps[2].title", message: "must not be empty" },
      { path: "steps[3].duration", message: "'x' is not an ISO-8601 duration" },
    ];
    expect(problemsLine(details)).toBe("Not saved: the sequence has 2 problems, each shown where it applies.");
    expect(problemsLine(details.slice(1))).toBe("Not saved: the sequence has 1 problem, shown where it applies.");
  });
});
