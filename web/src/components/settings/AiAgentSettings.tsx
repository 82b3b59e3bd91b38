// The tenant's AI agent (GET/PUT /api/v1/ai/agent, owners and admins): how it answers, its model and endpoint, what
// it is told and may state, its pacing and its monthly token budgets. Every save is a new version; the API key is
// write-only. The API's 422s show next to the fields they name.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../../api/client";
import { AGENT_MODES, agentBody, readAgent, type AgentSettings } from "../../lib/aiAgentSettings";
import { formErrors } from "../../lib/formErrors";
import { useForm } from "../../lib/useForm";
import { Field, Form, Options, SelectField } from "../Form";
import { ErrorLine, QueryState } from "../States";
import { Time } from "../Time";
import { SecretField } from "./SecretField";

const AGENT_KEY = ["ai-agent"];

const FIELDS = [
  "mode",
  "model",
  "base_url",
  "api_key",
  "system_prompt",
  "facts",
  "debounce_seconds",
  "draft_timeout_minutes",
  "monthly_token_budget_soft",
  "monthly_token_budget_hard",
] as const;

function AiAgentForm({ settings, saved, onSaved }: { settings: AgentSettings; saved: boolean; onSaved: () => void }) {
  const queryClient = useQueryClient();
  const { values, field, set } = useForm(readAgent(settings));
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT("/api/v1/ai/agent", { body: agentBody(values, settings) })),
    onSuccess: (stored) => {
      onSaved();
      // A new version: the form starts again from what the API stored.
      queryClient.setQueryData(AGENT_KEY, stored);
    },
  });
  const { byField, rest } = formErrors(save.error, FIELDS);
  return (
    <Form className="settings" onSubmit={() => save.mutate()} aria-label="AI agent settings">
      <SelectField label="Mode" {...field("mode")} problem={byField.mode}>
        <Options items={AGENT_MODES} value={(m) => m.value} label={(m) => m.label} />
      </SelectField>
      <Field
        label="Model"
        {...field("model")}
        maxLength={100}
        placeholder="the server's default"
        problem={byField.model}
      />
      <Field
        label="Base URL"
        {...field("baseUrl")}
        maxLength={500}
        placeholder="the server's default (OpenAI-compatible)"
        problem={byField.base_url}
      />
      <SecretField
        label="API key"
        clearLabel="Clear the stored API key"
        stored={settings.has_api_key}
        value={values.newApiKey}
        onChange={set("newApiKey")}
        clear={values.clearApiKey}
        onClear={set("clearApiKey")}
        problem={byField.api_key}
      />
      <Field
        className="wide"
        label="System prompt"
        rows={4}
        {...field("systemPrompt")}
        maxLength={8000}
        placeholder="how the agent introduces itself and what it aims for"
        problem={byField.system_prompt}
      />
      <Field
        className="wide"
        label="Business facts"
        rows={4}
        {...field("facts")}
        maxLength={8000}
        placeholder="what the agent may state: prices, hours, offers"
        problem={byField.facts}
      />
      <Field
        label="Wait for more messages (seconds)"
        type="number"
        step="any"
        required
        {...field("debounceSeconds")}
        problem={byField.debounce_seconds}
      />
      <Field
        label="Draft expires after (minutes)"
        type="number"
        step="any"
        required
        {...field("draftTimeoutMinutes")}
        problem={byField.draft_timeout_minutes}
      />
      <Field
        label="Monthly token budget: warn at"
        type="number"
        {...field("budgetSoft")}
        placeholder="no budget"
        problem={byField.monthly_token_budget_soft}
      />
      <Field
        label="Monthly token budget: pause at"
        type="number"
        {...field("budgetHard")}
        placeholder="no budget"
        problem={byField.monthly_token_budget_hard}
      />
      <div className="form-end">
        <button type="submit" className="primary" disabled={save.isPending}>
          Save AI agent
        </button>
        {saved && !save.isError && !save.isPending && (
          <span role="status">Saved: version {settings.version} is in use.</span>
        )}
        <ErrorLine error={rest} />
      </div>
    </Form>
  );
}

export function AiAgentSettings() {
  const [saved, setSaved] = useState(false);
  const agent = useQuery({ queryKey: AGENT_KEY, queryFn: () => unwrap(api.GET("/api/v1/ai/agent")) });
  const settings = agent.data;
  return (
    <section aria-label="AI agent">
      <h2>AI agent</h2>
      <QueryState query={agent} what="the AI agent's settings" />
      {settings && (
        <>
          <p className="muted">
            {settings.version === 0 ? (
              "Never set up: the agent is off."
            ) : (
              <>
                Version {settings.version}, saved <Time at={settings.updated_at} />.
              </>
            )}
          </p>
          {settings.paused && (
            <p className="notice">The monthly token budget is used up: the agent does not answer until next month.</p>
          )}
          <AiAgentForm key={settings.version} settings={settings} saved={saved} onSaved={() => setSaved(true)} />
        </>
      )}
    </section>
  );
}
