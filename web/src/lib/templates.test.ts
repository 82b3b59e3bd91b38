import { describe, expect, it } from "vitest";
import { pickTemplate, splitParameters, templateLabel, type KnownTemplate } from "./templates";

const welcome: KnownTemplate = {
  name: "welcome_v2",
  language: "pt_BR",
  parameter_count: 2,
  sequences: ["Onboarding"],
  sent_count: 3,
  last_sent_at: "2026-12-04T10:00:00Z",
};
const sentOnly: KnownTemplate = {
  name: "promo_march",
  language: null,
  parameter_count: null,
  sequences: [],
  sent_count: 1,
  last_sent_at: "2026-12-04T11:00:00Z",
};

describe("template picker", () => {
  it("labels a template with its language and where it comes from", () => {
    expect(templateLabel(welcome)).toBe("welcome_v2 (pt_BR) · in Onboarding, sent 3×");
    expect(templateLabel(sentOnly)).toBe("promo_march · sent 1×");
  });
  it("takes the sequence's language, else keeps the one typed", () => {
    expect(pickTemplate(welcome, { language: "en_US" })).toEqual({
      template: "welcome_v2",
      language: "pt_BR",
      parametersHint: "2 parameters, comma-separated",
    });
    const picked = pickTemplate(sentOnly, { language: "en_US" });
    expect(picked.language).toBe("en_US");
    expect(picked.parametersHint).toBe("parameters as the approved template needs them");
    expect(pickTemplate({ ...welcome, parameter_count: 0 }, { language: "en" }).parametersHint).toBe(
      "this template takes no parameters",
    );
  });
  it("splits parameters on commas, dropping blanks", () => {
    expect(splitParameters("Ada, Acme ,, x")).toEqual(["Ada", "Acme", "x"]);
    expect(splitParameters("")).toEqual([]);
  });
});
