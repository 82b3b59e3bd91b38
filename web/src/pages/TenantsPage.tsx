import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, errorMessage, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { QueryState } from "../components/States";
import { Time } from "../components/Time";

function CreateTenant() {
  const queryClient = useQueryClient();
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
      void queryClient.invalidateQueries({ queryKey: ["tenants"] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <form className="create" onSubmit={submit} aria-label="New tenant">
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        Slug
        <input value={slug} onChange={(e) => setSlug(e.target.value)} required placeholder="acme" />
      </label>
      <label>
        Owner's e-mail
        <input type="email" value={ownerEmail} onChange={(e) => setOwnerEmail(e.target.value)} required />
      </label>
      <label>
        Owner's password
        <input type="password" value={ownerPassword} onChange={(e) => setOwnerPassword(e.target.value)} required />
      </label>
      <label>
        Time zone
        <input value={timezone} onChange={(e) => setTimezone(e.target.value)} required />
      </label>
      <button type="submit" disabled={create.isPending}>
        Create tenant
      </button>
      {create.error && (
        <p className="error" role="alert">
          {errorMessage(create.error)}
        </p>
      )}
    </form>
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
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Slug</th>
              <th>Time zone</th>
              <th>Speed to lead</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
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
          </tbody>
        </table>
      )}
    </section>
  );
}
