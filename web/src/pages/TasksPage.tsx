import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Empty, QueryState } from "../components/States";
import { Time } from "../components/Time";

export function TasksPage() {
  const tasks = useQuery({
    queryKey: ["tasks", "mine", "open"],
    queryFn: () => unwrap(api.GET("/api/v1/tasks", { params: { query: { assignee: "me", status: "open" } } })),
  });
  return (
    <section>
      <h1>My tasks</h1>
      <QueryState query={tasks} what="tasks" />
      {tasks.data && tasks.data.length === 0 && <Empty>Nothing to do: no open task is assigned to you.</Empty>}
      {tasks.data && tasks.data.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Task</th>
              <th>Lead</th>
              <th>Due</th>
            </tr>
          </thead>
          <tbody>
            {tasks.data.map((task) => (
              <tr key={task.id} className={task.overdue ? "overdue" : undefined}>
                <td>{task.title}</td>
                <td>
                  <Link to={`/leads/${task.lead_id}`}>open lead</Link>
                </td>
                <td>
                  <Time at={task.due_at} />
                  {task.overdue && <span className="badge warn">overdue</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
