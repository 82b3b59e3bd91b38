// The inbox's template picker: what choosing a known template fills in, and how typed parameters are read.
import type { Schemas } from "../api/client";

export type KnownTemplate = Schemas["WhatsAppTemplatePublic"];

/** The option's label: name, language and where the template comes from. */
export function templateLabel(template: KnownTemplate): string {
  const parts = [template.name];
  if (template.language) parts.push(`(${template.language})`);
  const from: string[] = [];
  if (template.sequences.length > 0) from.push(`in ${template.sequences.join(", ")}`);
  if (template.sent_count > 0) from.push(`sent ${template.sent_count}×`);
  if (from.length > 0) parts.push(`· ${from.join(", ")}`);
  return parts.join(" ");
}

/** The form's fields once a template is picked: its language when a sequence gives one, else the one typed. */
export function pickTemplate(
  template: KnownTemplate,
  current: { language: string },
): { template: string; language: string; parametersHint: string } {
  const count = template.parameter_count;
  const parametersHint =
    count === null || count === undefined
      ? "parameters as the approved template needs them"
      : count === 0
        ? "this template takes no parameters"
        : `${count} parameter${count === 1 ? "" : "s"}, comma-separated`;
  return { template: template.name, language: template.language ?? current.language, parametersHint };
}

/** "Ada, Acme ,, x" → ["Ada", "Acme", "x"]. */
export function splitParameters(text: string): string[] {
  return text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
}
