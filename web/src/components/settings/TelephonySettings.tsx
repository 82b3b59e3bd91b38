// The tenant's telephony account (GET/PUT /api/v1/telephony/account, owners and admins): the Twilio credentials
// (auth token write-only) and the call policy. A tenant without one (404) gets the form to create it. The API's
// 422s show next to the fields they name; a sandbox account is refused in production, on the provider field.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import { ME_KEY } from "../../auth/AuthContext";
import { formErrors } from "../../lib/formErrors";
import {
  HUMAN_ANSWER_MODES,
  INBOUND_ROUTINGS,
  VOICEMAIL_POLICIES,
  readTelephony,
  telephonyBody,
  type TelephonyAccount,
} from "../../lib/telephonySettings";
import { useForm } from "../../lib/useForm";
import { Checkbox, Field, Form, Options, SelectField } from "../Form";
import { Empty, ErrorLine, QueryState } from "../States";
import { Time } from "../Time";
import { SecretField } from "./SecretField";

const ACCOUNT_KEY = ["telephony-account"];

const FIELDS = [
  "provider",
  "account_sid",
  "auth_token",
  "caller_ids",
  "agent_number",
  "concurrent_call_limit",
  "calls_per_second",
  "ring_timeout_seconds",
  "recording_enabled",
  "voicemail_policy",
  "voicemail_message",
  "human_answer_mode",
  "answer_message",
  "inbound_routing",
  "retry_max_attempts",
  "retry_spacing_minutes",
] as const;

type NumberField =
  | "concurrentCallLimit"
  | "callsPerSecond"
  | "ringTimeoutSeconds"
  | "retryMaxAttempts"
  | "retrySpacingMinutes";

function TelephonyForm({
  account,
  saved,
  onSaved,
}: {
  account: TelephonyAccount | null;
  saved: boolean;
  onSaved: () => void;
}) {
  const queryClient = useQueryClient();
  const { values, field, set } = useForm(readTelephony(account));
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT("/api/v1/telephony/account", { body: telephonyBody(values, account) })),
    onSuccess: (stored) => {
      onSaved();
      queryClient.setQueryData(ACCOUNT_KEY, stored);
      // Whether calls can be placed (the Call buttons) depends on the account.
      void queryClient.invalidateQueries({ queryKey: ME_KEY });
    },
  });
  const { byField, rest } = formErrors(save.error, FIELDS);
  const number = (name: NumberField, label: string, problem: string | undefined, step = "1") => (
    <Field label={label} type="number" step={step} required {...field(name)} problem={problem} />
  );
  return (
    <Form className="settings" onSubmit={() => save.mutate()} aria-label="Telephony settings">
      <SelectField label="Provider" {...field("provider")} problem={byField.provider}>
        <option value="twilio">Twilio</option>
        <option value="sandbox">sandbox (development)</option>
      </SelectField>
      <Field
        label="Account SID"
        {...field("accountSid")}
        required
        placeholder="AC…"
        autoComplete="off"
        problem={byField.account_sid}
      />
      <SecretField
        label="Auth token"
        clearLabel="Clear the stored auth token"
        stored={account?.has_auth_token ?? false}
        value={values.newAuthToken}
        onChange={set("newAuthToken")}
        clear={values.clearAuthToken}
        onClear={set("clearAuthToken")}
        problem={byField.auth_token}
      />
      <Field
        className="wide"
        label="Caller ids (one number a line)"
        rows={3}
        {...field("callerIds")}
        required
        placeholder="+14155550100"
        problem={byField.caller_ids}
      />
      <Field
        label="Agent number"
        {...field("agentNumber")}
        maxLength={40}
        placeholder="the phone a person answers on"
        problem={byField.agent_number}
      />
      {number("concurrentCallLimit", "Calls at once", byField.concurrent_call_limit)}
      {number("callsPerSecond", "Calls started per second", byField.calls_per_second, "any")}
      {number("ringTimeoutSeconds", "Ring for (seconds)", byField.ring_timeout_seconds)}
      {number("retryMaxAttempts", "Attempts of an unanswered call", byField.retry_max_attempts)}
      {number("retrySpacingMinutes", "Minutes between attempts", byField.retry_spacing_minutes)}
      <Checkbox label="Record calls" checked={values.recordingEnabled} onChange={set("recordingEnabled")} />
      <SelectField label="On a voicemail" {...field("voicemailPolicy")} problem={byField.voicemail_policy}>
        <Options items={VOICEMAIL_POLICIES} value={(o) => o.value} label={(o) => o.label} />
      </SelectField>
      <Field
        className="wide"
        label="Voicemail message"
        rows={2}
        {...field("voicemailMessage")}
        placeholder="what a voicemail is left with (when leaving one)"
        problem={byField.voicemail_message}
      />
      <SelectField label="When a person answers" {...field("humanAnswerMode")} problem={byField.human_answer_mode}>
        <Options items={HUMAN_ANSWER_MODES} value={(o) => o.value} label={(o) => o.label} />
      </SelectField>
      <Field
        className="wide"
        label="Answer message"
        rows={2}
        {...field("answerMessage")}
        placeholder="what a person who answers hears (when a message is said)"
        problem={byField.answer_message}
      />
      <SelectField label="Inbound calls" {...field("inboundRouting")} problem={byField.inbound_routing}>
        <Options items={INBOUND_ROUTINGS} value={(o) => o.value} label={(o) => o.label} />
      </SelectField>
      <div className="form-end">
        <button type="submit" className="primary" disabled={save.isPending}>
          {account ? "Save telephony" : "Create telephony account"}
        </button>
        {saved && !save.isError && !save.isPending && <span role="status">Saved.</span>}
        <ErrorLine error={rest} />
      </div>
    </Form>
  );
}

export function TelephonySettings() {
  const [saved, setSaved] = useState(false);
  const account = useQuery({
    queryKey: ACCOUNT_KEY,
    queryFn: () => unwrap(api.GET("/api/v1/telephony/account")),
    retry: false,
  });
  const missing = account.error instanceof ApiError && account.error.status === 404 && !account.data;
  const onSaved = () => setSaved(true);
  return (
    <section aria-label="Telephony">
      <h2>Telephony</h2>
      {missing ? (
        <>
          <Empty>No telephony account yet: set one up to place and take calls.</Empty>
          <TelephonyForm account={null} saved={false} onSaved={onSaved} />
        </>
      ) : (
        <QueryState query={account} what="the telephony account" />
      )}
      {account.data && (
        <>
          <dl className="fields">
            <dt>Voice URL for inbound calls</dt>
            <dd>
              <code>{account.data.voice_url}</code> (set it as the caller ids' Voice URL, POST)
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time at={account.data.updated_at} />
            </dd>
          </dl>
          <TelephonyForm key={account.data.updated_at} account={account.data} saved={saved} onSaved={onSaved} />
        </>
      )}
    </section>
  );
}
