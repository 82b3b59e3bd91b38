import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Empty, QueryState } from "../components/States";
import { Time } from "../components/Time";

function Users() {
  const users = useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/v1/users")) });
  return (
    <section>
      <h2>Users and roles</h2>
      <QueryState query={users} what="users" />
      {users.data && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>E-mail</th>
              <th>Role</th>
              <th>Active</th>
            </tr>
          </thead>
          <tbody>
            {users.data.map((user) => (
              <tr key={user.id}>
                <td>{user.full_name}</td>
                <td>{user.email}</td>
                <td>{user.role}</td>
                <td>{user.is_active ? "yes" : "deactivated"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ApiKeys() {
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => unwrap(api.GET("/api/v1/api-keys")) });
  return (
    <section>
      <h2>API keys</h2>
      <QueryState query={keys} what="API keys" />
      {keys.data && keys.data.length === 0 && <Empty>No API key.</Empty>}
      {keys.data && keys.data.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Prefix</th>
              <th>Last used</th>
            </tr>
          </thead>
          <tbody>
            {keys.data.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{key.role}</td>
                <td>
                  <code>{key.prefix}</code>
                </td>
                <td>
                  <Time at={key.last_used_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function SettingsPage() {
  const { me } = useAuth();
  return (
    <div>
      <h1>Settings</h1>
      {can(me, "user:read") && <Users />}
      {can(me, "api_key:manage") && <ApiKeys />}
    </div>
  );
}
