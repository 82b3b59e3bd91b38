import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import {
  Link,
  NavigationType,
  Route,
  Routes,
  useLocation,
  useNavigate,
  useNavigationType,
  useSearchParams,
} from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { Checkbox, Field, Form, Options, SelectField, Submit } from "../components/Form";
import { DataTable, ErrorLine, QueryList } from "../components/States";
import { Time } from "../components/Time";
import { phone } from "../lib/format";
import { useStatuses } from "../lib/queries";
import { useForm } from "../lib/useForm";
import { useInvalidate } from "../lib/useInvalidate";
import { LeadPage } from "./LeadPage";

const PAGE_SIZE = 25;

function CreateLead() {
  const navigate = useNavigate();
  const invalidate = useInvalidate();
  const { values, field } = useForm({ phone: "", name: "", email: "" });
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/leads", { body: { ...values, email: values.email || null, source: "web" } })),
    onSuccess: (lead) => {
      void invalidate(["leads"]);
      navigate(`/leads/${lead.id}`);
    },
  });
  return (
    <Form className="create" onSubmit={() => create.mutate()} aria-label="New lead">
      <Field label="Phone" {...field("phone")} required />
      <Field label="Name" {...field("name")} />
      <Field label="E-mail" type="email" {...field("email")} />
      <Submit pending={create.isPending} error={create.error}>
        Create lead
      </Submit>
    </Form>
  );
}

function ImportLeads() {
  const invalidate = useInvalidate();
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
    onSuccess: () => invalidate(["leads"]),
  });
  const report: Schemas["LeadImportReport"] | undefined = upload.data;
  return (
    <Form className="import" onSubmit={() => file && upload.mutate(file)} aria-label="Import leads">
      <label>
        CSV file (a header row with a phone column)
        <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} required />
      </label>
      <button type="submit" disabled={upload.isPending || !file}>
        Import
      </button>
      <ErrorLine error={upload.error} />
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
    </Form>
  );
}

/** Where the list is, kept in the address so Back, Forward and a reload come back to it. */
interface ListPlace {
  q: string;
  status: string;
  mine: boolean;
  /** The page's cursor; null on the first page. */
  cursor: string | null;
}

/** The cursors of the pages before this one, in the history entry: "Previous" goes back through them. */
interface ListHistory {
  before: (string | null)[];
}

function placeIn(params: URLSearchParams): ListPlace {
  return {
    q: params.get("q") ?? "",
    status: params.get("status") ?? "",
    mine: params.get("mine") === "1",
    cursor: params.get("cursor"),
  };
}

/**
 * The list's place, shown at once and written to the address. The router applies an address change as a
 * transition, later than the keystroke or click that made it: the controls read the place from state, and the
 * address is read back only when the browser moved through history (Back, Forward) or on opening.
 */
function useListPlace() {
  const [params, setParams] = useSearchParams();
  const location = useLocation();
  const navigationType = useNavigationType();
  const [place, setPlace] = useState(() => placeIn(params));
  const [seenKey, setSeenKey] = useState(location.key);
  // The addresses this list wrote and the router has not applied yet, in order (their changes are already in
  // `place`). An arrival of one of them consumes it and those before it; any other arrival (Back, Forward, a link
  // to /leads from the navigation) is read back.
  const written = useRef<string[]>([]);
  if (location.key !== seenKey) {
    setSeenKey(location.key);
    const own = navigationType === NavigationType.Pop ? -1 : written.current.indexOf(location.search);
    if (own < 0) {
      written.current = [];
      setPlace(placeIn(params));
    } else {
      written.current = written.current.slice(own + 1);
    }
  }
  const before = (location.state as ListHistory | null)?.before ?? [];
  /** Go to `changes` of the place: a filter starts again on the first page; `replace` for keystrokes. */
  const go = (changes: Partial<ListPlace>, history: ListHistory = { before: [] }, replace = false) => {
    const next = { ...place, cursor: null, ...changes };
    setPlace(next);
    const query = new URLSearchParams();
    if (next.q) query.set("q", next.q);
    if (next.status) query.set("status", next.status);
    if (next.mine) query.set("mine", "1");
    if (next.cursor) query.set("cursor", next.cursor);
    const search = query.toString();
    written.current.push(search ? `?${search}` : "");
    setParams(query, { replace, state: history });
  };
  return { place, before, go };
}

function LeadList() {
  const { me } = useAuth();
  const { place, before, go } = useListPlace();
  const { q, status, mine, cursor } = place;
  const statuses = useStatuses();
  const ownerId = mine ? me?.user?.id : undefined;
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
        <Field
          label="Search"
          className="search"
          type="search"
          value={q}
          placeholder="name, phone or e-mail"
          onChange={(value) => go({ q: value }, undefined, true)}
        />
        <SelectField label="Status" value={status} onChange={(value) => go({ status: value })}>
          <option value="">Any</option>
          <Options items={statuses.data ?? []} value={(s) => s.key} label={(s) => s.label} />
        </SelectField>
        {me?.user && <Checkbox label="Mine only" checked={mine} onChange={(on) => go({ mine: on })} />}
      </div>
      {can(me, "lead:write") && <CreateLead />}
      {can(me, "lead:import") && <ImportLeads />}
      <QueryList query={leads} what="leads" items={leads.data?.items} empty="No leads match.">
        {(items) => (
          <DataTable columns={["Name", "Phone", "Status", "Source", "Created"]}>
            {items.map((lead) => (
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
          </DataTable>
        )}
      </QueryList>
      <div className="pager">
        <button
          type="button"
          disabled={!cursor}
          // Opened from a link without the pages before it: "Previous" goes to the first page.
          onClick={() => go({ cursor: before[before.length - 1] ?? null }, { before: before.slice(0, -1) })}
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!leads.data?.next_cursor}
          onClick={() => leads.data?.next_cursor && go({ cursor: leads.data.next_cursor }, { before: [...before, cursor] })}
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
