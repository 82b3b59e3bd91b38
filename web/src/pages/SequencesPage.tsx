import { useQuery } from "@tanstack/react-query";
import { Route, Routes } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Empty, QueryState } from "../components/States";
import { Time } from "../components/Time";

function SequenceList() {
  const sequences = useQuery({
    queryKey: ["sequences"],
    queryFn: () => unwrap(api.GET("/api/v1/sequences")),
  });
  return (
    <section>
      <h1>Sequences</h1>
      <QueryState query={sequences} what="sequences" />
      {sequences.data && sequences.data.length === 0 && <Empty>No sequence yet.</Empty>}
      {sequences.data && sequences.data.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Steps</th>
              <th>Version</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {sequences.data.map((sequence) => (
              <tr key={sequence.id}>
                <td>{sequence.name}</td>
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
          </tbody>
        </table>
      )}
    </section>
  );
}

export function SequencesPage() {
  return (
    <Routes>
      <Route index element={<SequenceList />} />
    </Routes>
  );
}
