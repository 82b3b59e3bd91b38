// The API's 422 on a sequence lists each problem with its path ("steps[2].title", "settings.business_hours.end"):
// the builder shows each under the step it names, the rest above the steps.

export interface PathMessage {
  path: string;
  message: string;
}

export interface SortedErrors {
  byStep: Map<number, PathMessage[]>;
  general: PathMessage[];
}

/** The line above the builder for a refused sequence: how many problems (each is shown where it applies, once). */
export function problemsLine(details: unknown): string {
  const count = Array.isArray(details) ? details.length : 0;
  if (count === 1) return "Not saved: the sequence has 1 problem, shown where it applies.";
  return `Not saved: the sequence has ${count} problems, each shown where it applies.`;
}

export function sortErrors(details: unknown): SortedErrors {
  const byStep = new Map<number, PathMessage[]>();
  const general: PathMessage[] = [];
  if (!Array.isArray(details)) return { byStep, general };
  for (const item of details) {
    if (!item || typeof item !== "object") continue;
    const { path, message } = item as Record<string, unknown>;
    const entry = { path: String(path ?? ""), message: String(message ?? "") };
    const match = /^steps\[(\d+)\](?:\.(.*))?$/.exec(entry.path);
    if (match) {
      const index = Number(match[1]);
      byStep.set(index, [...(byStep.get(index) ?? []), { path: match[2] ?? "", message: entry.message }]);
    } else {
      general.push(entry);
    }
  }
  return { byStep, general };
}
