import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api, ApiError, unwrap, type Schemas } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Field, Form, Options, SelectField, Submit } from "../components/Form";
import { AiAgentSettings } from "../components/settings/AiAgentSettings";
import { STAGES, StatusRow, type Stage } from "../components/settings/StatusRow";
import { TelephonySettings } from "../components/settings/TelephonySettings";
import { TenantSettings } from "../components/settings/TenantSettings";
import { TENANT_ROLES, UserRole, type TenantRole } from "../components/settings/UserRole";
import { WhatsAppAccountForm } from "../components/settings/WhatsAppAccountForm";
import { DataTable, Empty, ErrorLine, QueryList, QueryState } from "../components/States";
import { Time } from "../components/Time";
import { useStatuses, useUsers } from "../lib/queries";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";


function Users() {
  const { me } = useAuth();
  const invalidate = useInvalidate();
  const users = useUsers();
  const { values, field, reset } = useForm({ email: "", full_name: "", password: "", role: "agent" as TenantRole });
  const refresh = () => invalidate(["users"]);
  const add = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/users", { body: values })),
    onSuccess: () => {
      reset("email", "full_name", "password");
      void refresh();
    },
  });
  const deactivate = useMutation({
    mutationFn: (userId: string) =>
      unwrap(api.POST("/api/v1/users/{user_id}/deactivate", { params: { path: { user_id: userId } } })),
    onSuccess: refresh,
  });
  const mayManage = can(me, "user:manage");
  return (
    <section aria-label="Users and roles">
      <h2>Users and roles</h2>
      <QueryState query={users} what="users" />
      {users.data && (
        <DataTable columns={["Name", "E-mail", "Role", "Active", mayManage && ""]}>
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
        </DataTable>
      )}
      <ErrorLine error={deactivate.error} />
      {mayManage && (
        <Form className="create" onSubmit={() => add.mutate()} aria-label="Add a user">
          <Field label="E-mail" type="email" {...field("email")} required />
          <Field label="Full name" {...field("full_name")} />
          <Field label="Password" type="password" {...field("password")} required />
          <SelectField label="Role" {...field("role")}>
            <Options items={can(me, "user:manage_owners") ? TENANT_ROLES : TENANT_ROLES.slice(0, 2)} />
          </SelectField>
          <Submit pending={add.isPending} error={add.error}>
            Add user
          </Submit>
        </Form>
      )}
    </section>
  );
}

function ApiKeys() {
  const invalidate = useInvalidate();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => unwrap(api.GET("/api/v1/api-keys")) });
  const { values, field, reset } = useForm({ name: "", role: "agent" as TenantRole });
  const [created, setCreated] = useState<Schemas["ApiKeyCreated"] | null>(null);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/api-keys", { body: values })),
    onSuccess: (key) => {
      setCreated(key);
      reset("name");
      void invalidate(["api-keys"]);
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE("/api/v1/api-keys/{api_key_id}", { params: { path: { api_key_id: id } } })),
    onSuccess: () => invalidate(["api-keys"]),
  });
  const live = keys.data?.filter((key) => !key.revoked_at) ?? [];
  return (
    <section aria-label="API keys">
      <h2>API keys</h2>
      <QueryList query={keys} what="API keys" items={keys.data && live} empty="No API key.">
        {(items) => (
          <DataTable columns={["Name", "Role", "Prefix", "Last used", ""]}>
            {items.map((key) => (
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
          </DataTable>
        )}
      </QueryList>
      <Form className="create" onSubmit={() => create.mutate()} aria-label="Create an API key">
        <Field label="What it is for" {...field("name")} required />
        <SelectField label="Role" {...field("role")}>
          <Options items={TENANT_ROLES} />
        </SelectField>
        <Submit pending={create.isPending} error={create.error ?? revoke.error}>
          Create key
        </Submit>
      </Form>
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
  const invalidate = useInvalidate();
  const statuses = useStatuses();
  const { values, field, reset } = useForm({ key: "", label: "", stage: "qualified" as Stage });
  const add = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/statuses", { body: { ...values, is_default: false } })),
    onSuccess: () => {
      reset("key", "label");
      void invalidate(["statuses"]);
    },
  });
  return (
    <section aria-label="Statuses">
      <h2>Statuses</h2>
      <Form className="create" onSubmit={() => add.mutate()} aria-label="Add a status">
        <Field label="Key" {...field("key")} required placeholder="demo_booked" />
        <Field label="Label" {...field("label")} required />
        <SelectField label="Stage" {...field("stage")}>
          <Options items={STAGES} />
        </SelectField>
        <Submit pending={add.isPending} error={add.error}>
          Add status
        </Submit>
      </Form>
      <QueryState query={statuses} what="statuses" />
      <ul className="statuses">
        {statuses.data?.map((s) => (
          <StatusRow key={`${s.key}/${s.label}/${s.stage}/${s.position}/${s.is_default}`} status={s} />
        ))}
      </ul>
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
  if (!me?.tenant) {
    // A system admin belongs to no tenant: every setting here is a tenant's.
    return (
      <div>
        <h1>Settings</h1>
        <p className="state">
          These are a tenant's settings, and you belong to no tenant: manage tenants on the{" "}
          <Link to="/tenants">Tenants</Link> page.
        </p>
      </div>
    );
  }
  return (
    <div>
      <h1>Settings</h1>
      {can(me, "user:read") && <Users />}
      {can(me, "api_key:manage") && <ApiKeys />}
      {can(me, "tenant:settings") && <TenantSettings tenantId={me.tenant.id} />}
      {can(me, "status:manage") && <Statuses />}
      {can(me, "whatsapp_account:manage") && <WhatsAppAccount />}
      {can(me, "ai_agent:manage") && <AiAgentSettings />}
      {can(me, "telephony_account:manage") && <TelephonySettings />}
    </div>
  );
}
