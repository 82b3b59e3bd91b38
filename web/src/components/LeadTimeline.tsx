// The lead's timeline, newest first: what happened, when, who did it (by name) and what it changed.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { actorLabel, eventSummary } from "../lib/timeline";
import { QueryList } from "./States";
import { Time } from "./Time";

export function LeadTimeline({ leadId }: { leadId: string }) {
  const timeline = useQuery({
    queryKey: ["timeline", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}/timeline", { params: { path: { lead_id: leadId } } })),
  });
  return (
    <section aria-label="Timeline">
      <h2>Timeline</h2>
      <QueryList query={timeline} what="the timeline" items={timeline.data} empty="Nothing happened yet." />
      <ol className="timeline">
        {timeline.data?.map((event) => {
          const summary = eventSummary(event);
          return (
            <li key={event.id} data-testid="timeline-event">
              <strong>{event.kind.replaceAll("_", " ")}</strong> <Time at={event.occurred_at} />
              <span className="muted"> · {actorLabel(event)}</span>
              {summary && <> · {summary}</>}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
