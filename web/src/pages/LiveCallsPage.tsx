// The tenant's calls ringing or in progress now, refreshed every 3 s.
import { Link } from "react-router-dom";
import { Empty, QueryState } from "../components/States";
import { relativeTime } from "../lib/format";
import { useLiveCalls } from "../lib/useLiveCalls";

export function LiveCallsPage() {
  const live = useLiveCalls(true);
  return (
    <section aria-label="Live calls">
      <h1>Live calls</h1>
      <QueryState query={live} what="live calls" />
      {live.data && live.data.items.length === 0 && <Empty>No call is ringing or in progress.</Empty>}
      {live.data && live.data.items.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Lead</th>
              <th>Status</th>
              <th>Direction</th>
              <th>Since</th>
            </tr>
          </thead>
          <tbody>
            {live.data.items.map((call) => (
              <tr key={call.call_id} data-testid="live-call">
                <td>
                  <Link to={`/leads/${call.lead_id}`}>open lead</Link>
                </td>
                <td>{call.status}</td>
                <td>{call.direction ?? "—"}</td>
                <td>{relativeTime(call.since)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
