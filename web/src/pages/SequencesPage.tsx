import { useQuery } from "@tanstack/react-query";
import { Link, Route, Routes } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { SectionGuard } from "../components/SectionGuard";
import { DataTable, QueryList } from "../components/States";
import { Time } from "../components/Time";
import { SequenceEditor } from "./SequenceEditor";
import { SequencePage } from "./SequencePage";

function SequenceList() {
  const { me } = useAuth();
  const sequences = useQuery({
    queryKey: ["sequences"],
    queryFn: () => unwrap(api.GET("/api/v1/sequences")),
  });
  return (
    <section>
      <div className="toolbar">
        <h1>Sequences</h1>
        {can(me, "sequence:manage") && (
          <Link className="button" to="/sequences/new">
            New sequence
          </Link>
        )}
      </div>
      <QueryList query={sequences} what="sequences" items={sequences.data} empty="No sequence yet.">
        {(items) => (
          <DataTable columns={["Name", "Status", "Steps", "Version", "Updated"]}>
            {items.map((sequence) => (
              <tr key={sequence.id}>
                <td>
                  <Link to={`/sequences/${sequence.id}`}>{sequence.name}</Link>
                </td>
                <td>{sequence.status}</td>
                <td>{sequence.steps.length}</td>
                <td>
                  {sequence.latest_version ?? "unpublished"}
                  {sequence.has_unpublished_changes && sequence.latest_version !== null && " (changes not published)"}
                </td>
                <td>
                  <Time at={sequence.updated_at} />
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </QueryList>
    </section>
  );
}

export function SequencesPage() {
  return (
    <Routes>
      <Route index element={<SequenceList />} />
      <Route
        path="new"
        element={
          <SectionGuard path="/sequences" needs="sequence:manage">
            <section>
              <h1>New sequence</h1>
              <SequenceEditor />
            </section>
          </SectionGuard>
        }
      />
      <Route path=":sequenceId" element={<SequencePage />} />
    </Routes>
  );
}
