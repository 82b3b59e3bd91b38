// The Call control of a lead's page: ring my phone first (the account's agent number, or a phone the agent gives),
// or call the lead directly. With no phone to ring it starts on the direct call, so a call can always be placed.
import { useMutation } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import {
  callRequest,
  initialPlacement,
  placementHint,
  rememberedPhone,
  rememberPhone,
  type CallMode,
  type CallOptions,
} from "../lib/callPlacement";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";
import { Field, Form, Submit } from "./Form";

export function CallControl({ leadId, options }: { leadId: string; options: CallOptions }) {
  const { me } = useAuth();
  const userId = me?.user?.id;
  const invalidate = useInvalidate();
  const { values, field, set } = useForm(initialPlacement(options, rememberedPhone(userId)));
  const { mode, phone } = values;
  const place = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/leads/{lead_id}/calls", {
          params: { path: { lead_id: leadId } },
          body: callRequest(mode, phone),
        }),
      ),
    onSuccess: () => {
      if (mode === "ring_me") rememberPhone(userId, phone, options);
      void invalidate(["calls", leadId]);
    },
  });
  const choice = (value: CallMode, label: string) => (
    <label className="inline">
      <input type="radio" name="call-mode" checked={mode === value} onChange={() => set("mode")(value)} />
      {label}
    </label>
  );
  return (
    <Form className="call-control" onSubmit={() => place.mutate()} aria-label="Place a call">
      <div className="row">
        {choice("ring_me", "Ring my phone first")}
        {choice("direct", "Call the lead directly")}
      </div>
      {mode === "ring_me" && (
        <Field label="My phone" type="tel" {...field("phone")} maxLength={40} required autoComplete="tel" />
      )}
      <p className="muted">{placementHint(mode, phone, options)}</p>
      <Submit pending={place.isPending} error={place.error} className="primary">
        {place.isPending ? "Calling…" : "Call"}
      </Submit>
    </Form>
  );
}
