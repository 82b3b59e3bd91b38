import { useQuery } from "@tanstack/react-query";
import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can, sectionsFor } from "../auth/permissions";
import { useLiveCalls } from "../lib/useLiveCalls";
import { NotificationBell } from "./NotificationBell";

/** "Calls" with the number ringing or in progress now, for tenants with telephony. */
function LiveCallsLink() {
  const live = useLiveCalls(true);
  const count = live.data?.items.length ?? 0;
  return (
    <NavLink to="/calls">
      Calls
      {count > 0 && (
        <span className="badge nav-count" data-testid="live-calls" aria-label={`${count} live calls`}>
          {count}
        </span>
      )}
    </NavLink>
  );
}

/** The tenant's unread messages beside "Inbox", kept current by the live events. */
function UnreadCount() {
  const total = useQuery({
    queryKey: ["conversations", "unread-total"],
    queryFn: () => unwrap(api.GET("/api/v1/conversations", { params: { query: { limit: 1 } } })),
    select: (page) => page.unread_total,
  });
  if (!total.data) return null;
  return (
    <span className="badge nav-count" data-testid="inbox-unread" aria-label={`${total.data} unread messages`}>
      {total.data}
    </span>
  );
}

export function Layout() {
  const { me, logout } = useAuth();
  const navigate = useNavigate();
  const who = me?.user?.full_name || me?.user?.email || me?.api_key?.name || "";
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Leadflow</span>
        <nav aria-label="Sections">
          {sectionsFor(me).map((section) => (
            <NavLink key={section.path} to={section.path}>
              {section.label}
              {section.path === "/inbox" && can(me, "lead:read") && <UnreadCount />}
            </NavLink>
          ))}
          {me?.telephony && can(me, "call:read") && <LiveCallsLink />}
        </nav>
        <div className="who">
          {me?.via === "session" && me.user && me.tenant && <NotificationBell />}
          <span className="who-name" data-testid="who">
            {who} · {me?.role}
            {me?.tenant ? ` · ${me.tenant.name}` : ""}
          </span>
          <button
            type="button"
            onClick={async () => {
              await logout();
              navigate("/login", { replace: true });
            }}
          >
            Log out
          </button>
        </div>
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}
