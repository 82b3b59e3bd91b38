import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Empty, QueryState } from "../components/States";
import { Time } from "../components/Time";
import { phone } from "../lib/format";

function Thread({ leadId }: { leadId: string }) {
  const messages = useQuery({
    queryKey: ["messages", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}/messages", { params: { path: { lead_id: leadId } } })),
  });
  return (
    <section className="thread" aria-label="Conversation">
      <QueryState query={messages} what="messages" />
      {messages.data && messages.data.items.length === 0 && <Empty>No message yet.</Empty>}
      <ol className="messages">
        {[...(messages.data?.items ?? [])].reverse().map((message) => (
          <li key={message.id} className={`message ${message.direction}`}>
            <p>{message.body || (message.template ? `template: ${message.template}` : "")}</p>
            <small>
              <Time at={message.occurred_at} />
              {message.direction === "outbound" && <span className={`status ${message.status}`}> · {message.status}</span>}
            </small>
          </li>
        ))}
      </ol>
    </section>
  );
}

export function InboxPage() {
  const { leadId } = useParams();
  const conversations = useQuery({
    queryKey: ["conversations"],
    queryFn: () => unwrap(api.GET("/api/v1/conversations")),
  });
  return (
    <div className="inbox">
      <section className="conversations" aria-label="Conversations">
        <h1>Inbox</h1>
        <QueryState query={conversations} what="conversations" />
        {conversations.data && conversations.data.items.length === 0 && <Empty>No conversation yet.</Empty>}
        <ul>
          {conversations.data?.items.map((conversation) => (
            <li key={conversation.id} className={conversation.lead.id === leadId ? "active" : undefined}>
              <Link to={`/inbox/${conversation.lead.id}`}>
                <strong>{conversation.lead.name || phone(conversation.lead.phone)}</strong>
                {conversation.unread_count > 0 && <span className="badge">{conversation.unread_count}</span>}
                <span className="preview">{conversation.last_message_preview}</span>
                <Time at={conversation.last_message_at} />
              </Link>
            </li>
          ))}
        </ul>
      </section>
      {leadId ? <Thread leadId={leadId} /> : <Empty>Pick a conversation.</Empty>}
    </div>
  );
}
