import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, Route, Routes, useNavigate } from "react-router-dom";
import { api, errorMessage, unwrap, type Schemas } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Empty, QueryState } from "../components/States";
import { Time } from "../components/Time";
import { phone } from "../lib/format";
import { LeadPage } from "./LeadPage";

const PAGE_SIZE = 25;

function CreateLead() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [phoneNumber, setPhoneNumber] = useState("");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/leads", { body: { phone: phoneNumber, name, email: email || null, source: "web" } })),
    onSuccess: (lead) => {
      void queryClient.invalidateQueries({ queryKey: ["leads"] });
      navigate(`/leads/${lead.id}`);
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <form className="create" onSubmit={submit} aria-label="New lead">
      <label>
        Phone
        <input value={phoneNumber} onChange={(e) => setPhoneNumber(e.target.value)} required />
      </label>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        E-mail
        <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <button type="submit" disabled={create.isPending}>
        Create lead
      </button>
      {create.error && (
        <p className="error" role="alert">
          {errorMessage(create.error)}
        </p>
      )}
    </form>
  );
}

function ImportLeads() {
  const queryClient = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const upload = useMutation({
    mutationFn: (chosen: File) =>
      unwrap(
        api.POST("/api/v1/leads/import", {
          body: { file: "" },
          bodySerializer: () => {
            const form = new FormData();
            form.append("file", chosen);
            return form;
          },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["leads"] }),
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (file) upload.mutate(file);
  }
  const report: Schemas["LeadImportReport"] | undefined = upload.data;
  return (
    <form className="import" onSubmit={submit} aria-label="Import leads">
      <label>
        CSV file (a header row with a phone column)
        <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} required />
      </label>
      <button type="submit" disabled={upload.isPending || !file}>
        Import
      </button>
      {upload.error && (
        <p className="error" role="alert">
          {errorMessage(upload.error)}
        </p>
      )}
      {report && (
        <div className="import-report" role="status">
          <p>
            {report.imported} imported, {report.skipped.length} skipped.
          </p>
          {report.skipped.length > 0 && (
            <ul>
              {report.skipped.map((row) => (
                <li key={`${row.line}-${row.code}`}>
                  Line {row.line}: {row.reason}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </form>
  );
}

function LeadList() {
  const { me } = useAuth();
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const [mine, setMine] = useState(false);
  const statuses = useQuery({ queryKey: ["statuses"], queryFn: () => unwrap(api.GET("/api/v1/statuses")) });
  const ownerId = mine ? me?.user?.id : undefined;
  // The cursors of the pages before this one, so "Previous" can go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const leads = useQuery({
    queryKey: ["leads", { q, cursor, status, ownerId }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/leads", {
          params: {
            query: {
              q: q || undefined,
              status: status || undefined,
              owner_id: ownerId,
              cursor: cursor ?? undefined,
              limit: PAGE_SIZE,
            },
          },
        }),
      ),
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
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setCursors([null]);
            }}
          >
            <option value="">Any</option>
            {statuses.data?.map((s) => (
              <option key={s.key} value={s.key}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        {me?.user && (
          <label className="inline">
            <input
              type="checkbox"
              checked={mine}
              onChange={(e) => {
                setMine(e.target.checked);
                setCursors([null]);
              }}
            />
            Mine only
          </label>
        )}
      </div>
      {can(me, "lead:write") && <CreateLead />}
      {can(me, "lead:import") && <ImportLeads />}
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
      <Route path=":leadId" element={<LeadPage />} />
    </Routes>
  );
}
