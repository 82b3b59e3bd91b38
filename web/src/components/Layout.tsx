import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { useAuth } from "../auth/AuthContext";
import { sectionsFor } from "../auth/permissions";

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
            </NavLink>
          ))}
        </nav>
        <div className="who">
          <span data-testid="who">
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
