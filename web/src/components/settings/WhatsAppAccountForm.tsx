// Set or change the tenant's WhatsApp account. Secrets are write-only: the API says only whether one is stored, and
// a secret field left empty keeps the stored value. Its 409 (the number is another tenant's) and 422s show as such.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { ME_KEY } from "../../auth/AuthContext";
import { useForm } from "../../lib/useForm";
import { Field, Form, SelectField } from "../Form";
import { ErrorLine } from "../States";

type Provider = Schemas["WhatsAppAccountUpdate"]["provider"];
type Account = Schemas["WhatsAppAccountPublic"];

const SECRETS = [
  { field: "access_token", label: "Access token", stored: "has_access_token" },
  { field: "app_secret", label: "App secret", stored: "has_app_secret" },
  { field: "verify_token", label: "Verify token", stored: "has_verify_token" },
] as const;

export function WhatsAppAccountForm({ account, onDone }: { account: Account | null; onDone: () => void }) {
  const queryClient = useQueryClient();
  const { values, field } = useForm({
    provider: (account?.provider as Provider | undefined) ?? "cloud",
    phoneNumberId: account?.phone_number_id ?? "",
    displayNumber: account?.display_number ?? "",
  });
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT("/api/v1/whatsapp/account", {
          body: {
            provider: values.provider,
            phone_number_id: values.phoneNumberId.trim() || null,
            display_number: values.displayNumber.trim() || null,
            // Left empty (or only spaces): null, which keeps the stored secret; the API would read spaces as "clear".
            ...Object.fromEntries(SECRETS.map(({ field }) => [field, (secrets[field] ?? "").trim() || null])),
          },
        }),
      ),
    onSuccess: (saved) => {
      queryClient.setQueryData(["whatsapp-account"], saved);
      // GET /auth/me says what a first message may be, which the provider decides.
      void queryClient.invalidateQueries({ queryKey: ME_KEY });
      setSecrets({});
      onDone();
    },
  });
  return (
    <Form className="create" onSubmit={() => save.mutate()} aria-label="WhatsApp account settings">
      <SelectField label="Provider" {...field("provider")}>
        <option value="cloud">Meta Cloud API</option>
        <option value="evolution">Evolution API</option>
        <option value="sandbox">sandbox (development)</option>
      </SelectField>
      <Field label="Phone number id" {...field("phoneNumberId")} maxLength={64} />
      <Field label="Display number" {...field("displayNumber")} maxLength={32} />
      {SECRETS.map(({ field, label, stored }) => (
        <Field
          key={field}
          label={label}
          type="password"
          autoComplete="off"
          value={secrets[field] ?? ""}
          onChange={(value) => setSecrets({ ...secrets, [field]: value })}
          placeholder={account?.[stored] ? "stored; leave empty to keep" : "not set"}
        />
      ))}
      <button type="submit" className="primary" disabled={save.isPending}>
        Save account
      </button>
      {account && (
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      )}
      <ErrorLine error={save.error} />
    </Form>
  );
}
