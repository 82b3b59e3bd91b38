// Set or change the tenant's WhatsApp account. Secrets are write-only: the API says only whether one is stored, and
// a secret field left empty keeps the stored value. Its 409 (the number is another tenant's) and 422s show as such.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
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
  const [provider, setProvider] = useState<Provider>((account?.provider as Provider | undefined) ?? "cloud");
  const [phoneNumberId, setPhoneNumberId] = useState(account?.phone_number_id ?? "");
  const [displayNumber, setDisplayNumber] = useState(account?.display_number ?? "");
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT("/api/v1/whatsapp/account", {
          body: {
            provider,
            phone_number_id: phoneNumberId.trim() || null,
            display_number: displayNumber.trim() || null,
            // Left empty: null, which keeps the stored secret.
            ...Object.fromEntries(SECRETS.map(({ field }) => [field, secrets[field] || null])),
          },
        }),
      ),
    onSuccess: (saved) => {
      queryClient.setQueryData(["whatsapp-account"], saved);
      setSecrets({});
      onDone();
    },
  });
  return (
    <Form className="create" onSubmit={() => save.mutate()} aria-label="WhatsApp account settings">
      <SelectField label="Provider" value={provider} onChange={setProvider}>
        <option value="cloud">Meta Cloud API</option>
        <option value="evolution">Evolution API</option>
        <option value="sandbox">sandbox (development)</option>
      </SelectField>
      <Field label="Phone number id" value={phoneNumberId} onChange={setPhoneNumberId} maxLength={64} />
      <Field label="Display number" value={displayNumber} onChange={setDisplayNumber} maxLength={32} />
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
