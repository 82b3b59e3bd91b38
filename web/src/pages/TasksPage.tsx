import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { DataTable, Empty, QueryList, QueryState } from "../components/States";
import { TaskActions } from "../components/TaskActions";
import { Time } from "../components/Time";
import { phone } from "../lib/format";
import { useLead } from "../lib/queries";

function LeadSummary({ leadId }: { leadId: string }) {
  const lead = useLead(leadId);
  if (!lead.data) return <QueryState query={lead} what="the lead" />;
  return (
    <p>
      <Link to={`/leads/${leadId}`}>{lead.data.name || phone(lead.data.phone)}</Link> · {phone(lead.data.phone)} ·{" "}
      {lead.data.status}
    </p>
  );
}

/** One task at a time, due first; completing or skipping it brings the next. */
function WorkTheQueue({ tasks, onLeave }: { tasks: Schemas["TaskPublic"][]; onLeave: () => void }) {
  const task = tasks[0];
  return (
    <section className="queue" aria-label="Work the queue">
      <div className="toolbar">
        <h2>
          Working the queue · {tasks.length} left
        </h2>
        <button type="button" onClick={onLeave}>
          Back to the list
        </button>
      </div>
      {task ? (
        <article className="queue-task">
          <h3>{task.title}</h3>
          {task.description && <p>{task.description}</p>}
          <p>
            Due <Time at={task.due_at} />
            {task.overdue && <span className="badge warn">overdue</span>}
          </p>
          <LeadSummary leadId={task.lead_id} />
          <TaskActions key={task.id} task={task} />
        </article>
      ) : (
        <Empty>The queue is empty. Well done.</Empty>
      )}
    </section>
  );
}

export function TasksPage() {
  const [working, setWorking] = useState(false);
  const tasks = useQuery({
    queryKey: ["tasks", "mine", "open"],
    queryFn: () => unwrap(api.GET("/api/v1/tasks", { params: { query: { assignee: "me", status: "open" } } })),
  });
  if (working && tasks.data) return <WorkTheQueue tasks={tasks.data} onLeave={() => setWorking(false)} />;
  return (
    <section>
      <div className="toolbar">
        <h1>My tasks</h1>
        {tasks.data && tasks.data.length > 0 && (
          <button type="button" className="primary" onClick={() => setWorking(true)}>
            Work the queue
          </button>
        )}
      </div>
      <QueryList query={tasks} what="tasks" items={tasks.data} empty="Nothing to do: no open task is assigned to you.">
        {(items) => (
          <DataTable columns={["Task", "Lead", "Due", "Done?"]}>
            {items.map((task) => (
              <tr key={task.id} className={task.overdue ? "overdue" : undefined} data-testid="task">
                <td>{task.title}</td>
                <td>
                  <Link to={`/leads/${task.lead_id}`}>{task.lead_name || phone(task.lead_phone)}</Link>
                </td>
                <td>
                  <Time at={task.due_at} />
                  {task.overdue && <span className="badge warn">overdue</span>}
                </td>
                <td>
                  <TaskActions task={task} />
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </QueryList>
    </section>
  );
}
