import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, unwrap, type Schemas } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Empty, QueryState } from "../components/States";
import { ErrorLine } from "../components/settings/ErrorLine";
import { STAGES, StatusRow, type Stage } from "../components/settings/StatusRow";
import { UserRole } from "../components/settings/UserRole";
import { WhatsAppAccountForm } from "../components/settings/WhatsAppAccountForm";
import { Time } from "../components/Time";

type TenantRole = "owner" | "admin" | "agent";

function Users() {
  const { me } = useAuth();
  const queryClient = useQueryClient();
  const users = useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/v1/users")) });
  const [email, setEmail] = useState("");
  const [fullName, setFullName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<TenantRole>("agent");
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["users"] });
  const add = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/users", { body: { email, full_name: fullName, password, role } })),
    onSuccess: () => {
      setEmail("");
      setFullName("");
      setPassword("");
      void refresh();
    },
  });
  const deactivate = useMutation({
    mutationFn: (userId: string) =>
      unwrap(api.POST("/api/v1/users/{user_id}/deactivate", { params: { path: { user_id: userId } } })),
    onSuccess: refresh,
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate();
  }
  const mayManage = can(me, "user:manage");
  return (
    <section aria-label="Users and roles">
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
              {mayManage && <th />}
            </tr>
          </thead>
          <tbody>
            {users.data.map((user) => (
              <tr key={user.id}>
                <td>{user.full_name}</td>
                <td>{user.email}</td>
                <td>
                  {mayManage && user.id !== me?.user?.id ? (
                    <UserRole user={user} mayGrantOwner={can(me, "user:manage_owners")} />
                  ) : (
                    user.role
                  )}
                </td>
                <td>{user.is_active ? "yes" : "deactivated"}</td>
                {mayManage && (
                  <td>
                    {user.is_active && user.id !== me?.user?.id && (
                      <button type="button" onClick={() => deactivate.mutate(user.id)}>
                        Deactivate
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorLine error={deactivate.error} />
      {mayManage && (
        <form className="create" onSubmit={submit} aria-label="Add a user">
          <label>
            E-mail
            <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </label>
          <label>
            Full name
            <input value={fullName} onChange={(e) => setFullName(e.target.value)} />
          </label>
          <label>
            Password
            <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.target.value as TenantRole)}>
              <option value="agent">agent</option>
              <option value="admin">admin</option>
              {can(me, "user:manage_owners") && <option value="owner">owner</option>}
            </select>
          </label>
          <button type="submit" disabled={add.isPending}>
            Add user
          </button>
          <ErrorLine error={add.error} />
        </form>
      )}
    </section>
  );
}

function ApiKeys() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => unwrap(api.GET("/api/v1/api-keys")) });
  const [name, setName] = useState("");
  const [role, setRole] = useState<TenantRole>("agent");
  const [created, setCreated] = useState<Schemas["ApiKeyCreated"] | null>(null);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/api-keys", { body: { name, role } })),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE("/api/v1/api-keys/{api_key_id}", { params: { path: { api_key_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  const live = keys.data?.filter((key) => !key.revoked_at) ?? [];
  return (
    <section aria-label="API keys">
      <h2>API keys</h2>
      <QueryState query={keys} what="API keys" />
      {keys.data && live.length === 0 && <Empty>No API key.</Empty>}
      {live.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Prefix</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {live.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{key.role}</td>
                <td>
                  <code>{key.prefix}</code>
                </td>
                <td>
                  <Time at={key.last_used_at} />
                </td>
                <td>
                  <button type="button" onClick={() => revoke.mutate(key.id)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="create" onSubmit={submit} aria-label="Create an API key">
        <label>
          What it is for
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as TenantRole)}>
            <option value="agent">agent</option>
            <option value="admin">admin</option>
            <option value="owner">owner</option>
          </select>
        </label>
        <button type="submit" disabled={create.isPending}>
          Create key
        </button>
        <ErrorLine error={create.error ?? revoke.error} />
      </form>
      {created && (
        <div className="notice" role="status">
          <p>
            The key <strong>{created.name}</strong>, shown this once (it is stored only as a digest):
          </p>
          <code data-testid="new-api-key">{created.key}</code>{" "}
          <button type="button" onClick={() => setCreated(null)}>
            I have copied it
          </button>
        </div>
      )}
    </section>
  );
}


function Statuses() {
  const queryClient = useQueryClient();
  const statuses = useQuery({ queryKey: ["statuses"], queryFn: () => unwrap(api.GET("/api/v1/statuses")) });
  const [key, setKey] = useState("");
  const [label, setLabel] = useState("");
  const [stage, setStage] = useState<Stage>("qualified");
  const add = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/statuses", { body: { key, label, stage, is_default: false } })),
    onSuccess: () => {
      setKey("");
      setLabel("");
      void queryClient.invalidateQueries({ queryKey: ["statuses"] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate();
  }
  return (
    <section aria-label="Statuses">
      <h2>Statuses</h2>
      <form className="create" onSubmit={submit} aria-label="Add a status">
        <label>
          Key
          <input value={key} onChange={(e) => setKey(e.target.value)} required placeholder="demo_booked" />
        </label>
        <label>
          Label
          <input value={label} onChange={(e) => setLabel(e.target.value)} required />
        </label>
        <label>
          Stage
          <select value={stage} onChange={(e) => setStage(e.target.value as Stage)}>
            {STAGES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={add.isPending}>
          Add status
        </button>
        <ErrorLine error={add.error} />
      </form>
      <QueryState query={statuses} what="statuses" />
      <ul className="statuses">
        {statuses.data?.map((s) => (
          <StatusRow key={`${s.key}/${s.label}/${s.stage}/${s.position}/${s.is_default}`} status={s} />
        ))}
      </ul>
    </section>
  );
}

function TenantSettings() {
  const { me } = useAuth();
  const queryClient = useQueryClient();
  const tenantId = me?.tenant?.id ?? "";
  const [minutes, setMinutes] = useState("");
  const [timezone, setTimezone] = useState("");
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/api/v1/tenants/{tenant_id}", {
          params: { path: { tenant_id: tenantId } },
          body: {
            ...(minutes !== "" ? { speed_to_lead_minutes: Number(minutes) } : {}),
            ...(timezone !== "" ? { timezone } : {}),
          },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["me"] }),
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }
  return (
    <section aria-label="Tenant">
      <h2>Tenant</h2>
      <form className="create" onSubmit={submit} aria-label="Tenant settings">
        <label>
          Speed-to-lead minutes (0 = off)
          <input type="number" min={0} value={minutes} onChange={(e) => setMinutes(e.target.value)} />
        </label>
        <label>
          Time zone
          <input value={timezone} onChange={(e) => setTimezone(e.target.value)} placeholder="Europe/Madrid" />
        </label>
        <button type="submit" disabled={save.isPending || (minutes === "" && timezone === "")}>
          Save
        </button>
        {save.isSuccess && <span role="status">Saved.</span>}
        <ErrorLine error={save.error} />
      </form>
    </section>
  );
}

function WhatsAppAccount() {
  const [editing, setEditing] = useState(false);
  const account = useQuery({
    queryKey: ["whatsapp-account"],
    queryFn: () => unwrap(api.GET("/api/v1/whatsapp/account")),
    retry: false,
  });
  const missing = account.error instanceof ApiError && account.error.status === 404;
  return (
    <section aria-label="WhatsApp account">
      <h2>WhatsApp account</h2>
      {missing && !account.data ? (
        <Empty>No WhatsApp account yet.</Empty>
      ) : (
        <QueryState query={account} what="the WhatsApp account" />
      )}
      {(editing || (missing && !account.data)) && (
        <WhatsAppAccountForm key={account.dataUpdatedAt} account={account.data ?? null} onDone={() => setEditing(false)} />
      )}
      {account.data && (
        <dl className="fields">
          <dt>Provider</dt>
          <dd>{account.data.provider}</dd>
          <dt>Number</dt>
          <dd>{account.data.display_number ?? account.data.phone_number_id ?? "—"}</dd>
          <dt>Webhook URL</dt>
          <dd>
            <code>{account.data.webhook_url}</code>
          </dd>
          {account.data.shard && (
            <>
              <dt>Shard</dt>
              <dd>{account.data.shard}</dd>
            </>
          )}
          <dt>Secrets</dt>
          <dd>
            access token {account.data.has_access_token ? "stored" : "not set"}, app secret{" "}
            {account.data.has_app_secret ? "stored" : "not set"}, verify token{" "}
            {account.data.has_verify_token ? "stored" : "not set"}
          </dd>
          <dt>Updated</dt>
          <dd>
            <Time at={account.data.updated_at} />
          </dd>
        </dl>
      )}
      {account.data && !editing && (
        <button type="button" onClick={() => setEditing(true)}>
          Edit account
        </button>
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
      {can(me, "tenant:settings") && <TenantSettings />}
      {can(me, "status:manage") && <Statuses />}
      {can(me, "whatsapp_account:manage") && <WhatsAppAccount />}
      <p className="muted">The AI agent's and telephony settings appear here once those exist.</p>
    </div>
  );
}
