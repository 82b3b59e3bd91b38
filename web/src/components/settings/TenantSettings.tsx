// The tenant's own settings (GET/PATCH /api/v1/tenants/{id}, the owner): speed-to-lead and time zone, starting from
// the values they have now. A system admin has no tenant of their own and never sees this form.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { ME_KEY } from "../../auth/AuthContext";
import { formErrors } from "../../lib/formErrors";
import { useForm } from "../../lib/useForm";
import { Field, Form } from "../Form";
import { ErrorLine, QueryState } from "../States";

type Tenant = Schemas["TenantPublic"];

const FIELDS = ["speed_to_lead_minutes", "timezone"] as const;

function TenantForm({ tenant, saved, onSaved }: { tenant: Tenant; saved: boolean; onSaved: () => void }) {
  const queryClient = useQueryClient();
  const { values, field } = useForm({ minutes: String(tenant.speed_to_lead_minutes), timezone: tenant.timezone });
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/api/v1/tenants/{tenant_id}", {
          params: { path: { tenant_id: tenant.id } },
          body: { speed_to_lead_minutes: Number(values.minutes), timezone: values.timezone.trim() },
        }),
      ),
    onSuccess: (stored) => {
      onSaved();
      queryClient.setQueryData(["tenant", tenant.id], stored);
      void queryClient.invalidateQueries({ queryKey: ME_KEY });
    },
  });
  const { byField, rest } = formErrors(save.error, FIELDS);
  return (
    <Form className="create" onSubmit={() => save.mutate()} aria-label="Tenant settings">
      <Field
        label="Speed-to-lead minutes (0 = off)"
        type="number"
        min={0}
        required
        {...field("minutes")}
        problem={byField.speed_to_lead_minutes}
      />
      <Field label="Time zone" {...field("timezone")} required problem={byField.timezone} />
      <button type="submit" disabled={save.isPending}>
        Save
      </button>
      {saved && !save.isError && !save.isPending && <span role="status">Saved.</span>}
      <ErrorLine error={rest} />
    </Form>
  );
}

export function TenantSettings({ tenantId }: { tenantId: string }) {
  const [saved, setSaved] = useState(false);
  const tenant = useQuery({
    queryKey: ["tenant", tenantId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/tenants/{tenant_id}", { params: { path: { tenant_id: tenantId } } })),
  });
  return (
    <section aria-label="Tenant">
      <h2>Tenant</h2>
      <QueryState query={tenant} what="the tenant's settings" />
      {tenant.data && (
        <TenantForm
          key={`${tenant.data.speed_to_lead_minutes}/${tenant.data.timezone}`}
          tenant={tenant.data}
          saved={saved}
          onSaved={() => setSaved(true)}
        />
      )}
    </section>
  );
}
