import { useMutation, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Field, Form, Submit } from "../components/Form";
import { DataTable, QueryState } from "../components/States";
import { Time } from "../components/Time";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";

function CreateTenant() {
  const invalidate = useInvalidate();
  const { values, field, reset } = useForm({ name: "", slug: "", ownerEmail: "", ownerPassword: "", timezone: "UTC" });
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/tenants", {
          body: {
            name: values.name,
            slug: values.slug,
            owner_email: values.ownerEmail,
            owner_password: values.ownerPassword,
            owner_name: "",
            timezone: values.timezone,
            default_region: "US",
            speed_to_lead_minutes: 15,
          },
        }),
      ),
    onSuccess: () => {
      reset("name", "slug", "ownerEmail", "ownerPassword");
      void invalidate(["tenants"]);
    },
  });
  return (
    <Form className="create" onSubmit={() => create.mutate()} aria-label="New tenant">
      <Field label="Name" {...field("name")} required />
      <Field label="Slug" {...field("slug")} required placeholder="acme" />
      <Field label="Owner's e-mail" type="email" {...field("ownerEmail")} required />
      <Field label="Owner's password" type="password" {...field("ownerPassword")} required />
      <Field label="Time zone" {...field("timezone")} required />
      <Submit pending={create.isPending} error={create.error}>
        Create tenant
      </Submit>
    </Form>
  );
}

export function TenantsPage() {
  const { me } = useAuth();
  const tenants = useQuery({ queryKey: ["tenants"], queryFn: () => unwrap(api.GET("/api/v1/tenants")) });
  return (
    <section>
      <h1>Tenants</h1>
      {can(me, "tenant:create") && <CreateTenant />}
      <QueryState query={tenants} what="tenants" />
      {tenants.data && (
        <DataTable columns={["Name", "Slug", "Time zone", "Speed to lead", "Created"]}>
          {tenants.data.map((tenant) => (
            <tr key={tenant.id}>
              <td>{tenant.name}</td>
              <td>{tenant.slug}</td>
              <td>{tenant.timezone}</td>
              <td>{tenant.speed_to_lead_minutes ? `${tenant.speed_to_lead_minutes} min` : "off"}</td>
              <td>
                <Time at={tenant.created_at} />
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}
