import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { QueryState } from "../components/States";
import { Time } from "../components/Time";

export function TenantsPage() {
  const tenants = useQuery({ queryKey: ["tenants"], queryFn: () => unwrap(api.GET("/api/v1/tenants")) });
  return (
    <section>
      <h1>Tenants</h1>
      <QueryState query={tenants} what="tenants" />
      {tenants.data && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Slug</th>
              <th>Time zone</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {tenants.data.map((tenant) => (
              <tr key={tenant.id}>
                <td>{tenant.name}</td>
                <td>{tenant.slug}</td>
                <td>{tenant.timezone}</td>
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
