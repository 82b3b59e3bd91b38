import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Field, Form } from "../components/Form";
import { DataTable, ErrorLine, QueryState } from "../components/States";
import { Time } from "../components/Time";
import { useInvalidate } from "../lib/useInvalidate";

function CreateTenant() {
  const invalidate = useInvalidate();
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [ownerEmail, setOwnerEmail] = useState("");
  const [ownerPassword, setOwnerPassword] = useState("");
  const [timezone, setTimezone] = useState("UTC");
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/tenants", {
          body: {
            name,
            slug,
            owner_email: ownerEmail,
            owner_password: ownerPassword,
            owner_name: "",
            timezone,
            default_region: "US",
            speed_to_lead_minutes: 15,
          },
        }),
      ),
    onSuccess: () => {
      setName("");
      setSlug("");
      setOwnerEmail("");
      setOwnerPassword("");
      void invalidate(["tenants"]);
    },
  });
  return (
    <Form className="create" onSubmit={() => create.mutate()} aria-label="New tenant">
      <Field label="Name" value={name} onChange={setName} required />
      <Field label="Slug" value={slug} onChange={setSlug} required placeholder="acme" />
      <Field label="Owner's e-mail" type="email" value={ownerEmail} onChange={setOwnerEmail} required />
      <Field label="Owner's password" type="password" value={ownerPassword} onChange={setOwnerPassword} required />
      <Field label="Time zone" value={timezone} onChange={setTimezone} required />
      <button type="submit" disabled={create.isPending}>
        Create tenant
      </button>
      <ErrorLine error={create.error} />
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
