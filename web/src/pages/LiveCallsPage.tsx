// The tenant's calls ringing or in progress now, refreshed every 3 s.
import { Link } from "react-router-dom";
import { DataTable, QueryList } from "../components/States";
import { relativeTime } from "../lib/format";
import { useLiveCalls } from "../lib/useLiveCalls";

export function LiveCallsPage() {
  const live = useLiveCalls(true);
  return (
    <section aria-label="Live calls">
      <h1>Live calls</h1>
      <QueryList query={live} what="live calls" items={live.data?.items} empty="No call is ringing or in progress.">
        {(items) => (
          <DataTable columns={["Lead", "Status", "Direction", "Since"]}>
            {items.map((call) => (
              <tr key={call.call_id} data-testid="live-call">
                <td>
                  <Link to={`/leads/${call.lead_id}`}>open lead</Link>
                </td>
                <td>{call.status}</td>
                <td>{call.direction ?? "—"}</td>
                <td>{relativeTime(call.since)}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </QueryList>
    </section>
  );
}
