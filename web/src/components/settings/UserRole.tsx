// A user's role, changed in place (the API ends their sessions; the tenant's last owner cannot be demoted: 409).
import { useMutation } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../../api/client";
import { useInvalidate } from "../../lib/useInvalidate";
import { Options } from "../Form";
import { ErrorLine } from "../States";

export type TenantRole = "owner" | "admin" | "agent";
/** The roles in the order they are offered; only owners hand out the last one. */
export const TENANT_ROLES: TenantRole[] = ["agent", "admin", "owner"];

export function UserRole({ user, mayGrantOwner }: { user: Schemas["UserPublic"]; mayGrantOwner: boolean }) {
  const invalidate = useInvalidate();
  const change = useMutation({
    mutationFn: (role: TenantRole) =>
      unwrap(api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: user.id } }, body: { role } })),
    onSuccess: () => invalidate(["users"]),
  });
  // Only owners hand out or take away the owner role; an admin sees an owner's role as text.
  if (user.role === "owner" && !mayGrantOwner) return <>{user.role}</>;
  const roles = mayGrantOwner ? TENANT_ROLES : TENANT_ROLES.slice(0, 2);
  return (
    <>
      <select
        aria-label={`Role of ${user.email}`}
        value={user.role}
        disabled={change.isPending || !user.is_active}
        onChange={(e) => change.mutate(e.target.value as TenantRole)}
      >
        <Options items={roles} />
      </select>
      <ErrorLine error={change.error} />
    </>
  );
}
