import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { useAuth } from "./auth/AuthContext";
import { landingPath } from "./auth/permissions";
import { Layout } from "./components/Layout";
import { SectionGuard } from "./components/SectionGuard";
import { Loading } from "./components/States";
import { InboxPage } from "./pages/InboxPage";
import { LeadsPage } from "./pages/LeadsPage";
import { LiveCallsPage } from "./pages/LiveCallsPage";
import { LoginPage } from "./pages/LoginPage";
import { SequencesPage } from "./pages/SequencesPage";
import { SettingsPage } from "./pages/SettingsPage";
import { TasksPage } from "./pages/TasksPage";
import { TenantsPage } from "./pages/TenantsPage";

function RequireAuth({ children }: { children: React.ReactNode }) {
  const { me, loading } = useAuth();
  const location = useLocation();
  if (loading) return <Loading what="your session" />;
  if (!me) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}

function Home() {
  const { me } = useAuth();
  return me ? <Navigate to={landingPath(me, null)} replace /> : null;
}

/** A section's page, or the plain refusal for a role that may not open it. */
function guarded(path: string, page: React.ReactNode) {
  return <SectionGuard path={path}>{page}</SectionGuard>;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<Home />} />
        <Route path="inbox/:leadId?" element={guarded("/inbox", <InboxPage />)} />
        <Route path="leads/*" element={guarded("/leads", <LeadsPage />)} />
        <Route path="tasks" element={guarded("/tasks", <TasksPage />)} />
        <Route path="calls" element={guarded("/calls", <LiveCallsPage />)} />
        <Route path="sequences/*" element={guarded("/sequences", <SequencesPage />)} />
        <Route path="settings/*" element={guarded("/settings", <SettingsPage />)} />
        <Route path="tenants" element={guarded("/tenants", <TenantsPage />)} />
        <Route path="*" element={<p className="state">This page does not exist.</p>} />
      </Route>
    </Routes>
  );
}
