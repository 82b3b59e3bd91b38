import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, Route, Routes } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Empty, QueryState } from "../components/States";
import { Time } from "../components/Time";
import { phone } from "../lib/format";

const PAGE_SIZE = 25;

function LeadList() {
  const [q, setQ] = useState("");
  // The cursors of the pages before this one, so "Previous" can go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const leads = useQuery({
    queryKey: ["leads", { q, cursor }],
    queryFn: () =>
      unwrap(api.GET("/api/v1/leads", { params: { query: { q: q || undefined, cursor: cursor ?? undefined, limit: PAGE_SIZE } } })),
    placeholderData: keepPreviousData,
  });

  return (
    <section>
      <div className="toolbar">
        <h1>Leads</h1>
        <label className="search">
          Search
          <input
            type="search"
            value={q}
            placeholder="name, phone or e-mail"
            onChange={(e) => {
              setQ(e.target.value);
              setCursors([null]);
            }}
          />
        </label>
      </div>
      <QueryState query={leads} what="leads" />
      {leads.data && leads.data.items.length === 0 && <Empty>No leads match.</Empty>}
      {leads.data && leads.data.items.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Phone</th>
              <th>Status</th>
              <th>Source</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {leads.data.items.map((lead) => (
              <tr key={lead.id}>
                <td>
                  <Link to={`/leads/${lead.id}`}>{lead.name || "(no name)"}</Link>
                </td>
                <td>{phone(lead.phone)}</td>
                <td>
                  <span className={`stage stage-${lead.stage}`}>{lead.status}</span>
                </td>
                <td>{lead.source}</td>
                <td>
                  <Time at={lead.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <button
          type="button"
          disabled={!leads.data?.next_cursor}
          onClick={() => leads.data?.next_cursor && setCursors([...cursors, leads.data.next_cursor])}
        >
          Next
        </button>
      </div>
    </section>
  );
}

export function LeadsPage() {
  return (
    <Routes>
      <Route index element={<LeadList />} />
    </Routes>
  );
}
