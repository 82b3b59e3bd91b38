import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { useAuth } from "./auth/AuthContext";
import { landingPath } from "./auth/permissions";
import { Layout } from "./components/Layout";
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
        <Route path="inbox/:leadId?" element={<InboxPage />} />
        <Route path="leads/*" element={<LeadsPage />} />
        <Route path="tasks" element={<TasksPage />} />
        <Route path="calls" element={<LiveCallsPage />} />
        <Route path="sequences/*" element={<SequencesPage />} />
        <Route path="settings/*" element={<SettingsPage />} />
        <Route path="tenants" element={<TenantsPage />} />
        <Route path="*" element={<p className="state">This page does not exist.</p>} />
      </Route>
    </Routes>
  );
}
