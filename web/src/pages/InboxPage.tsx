import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { AiDrafts, HandlerControl } from "../components/AiPanel";
import { ReplyBox } from "../components/ReplyBox";
import { Checkbox, Field, SelectField } from "../components/Form";
import { Empty, QueryList, QueryState } from "../components/States";
import { Time } from "../components/Time";
import { handlerBadge } from "../lib/aiAgent";
import { phone } from "../lib/format";
import { useConversation } from "../lib/queries";

type Owner = "all" | "mine" | "unassigned";
type HandlerFilter = "any" | "ai" | "human" | "unassigned";

function MessageStatus({ message }: { message: Schemas["MessagePublic"] }) {
  if (message.direction !== "outbound") return null;
  if (message.status === "failed") {
    const reason = message.error_message || message.error_code || "no reason given";
    return <span className="status failed"> · failed: {reason}</span>;
  }
  return <span className={`status ${message.status}`}> · {message.status}</span>;
}

export function Thread({ leadId }: { leadId: string }) {
  const messages = useQuery({
    queryKey: ["messages", leadId],
    queryFn: () => unwrap(api.GET("/api/v1/leads/{lead_id}/messages", { params: { path: { lead_id: leadId } } })),
  });
  return (
    <div className="thread-body">
      <QueryList query={messages} what="messages" items={messages.data?.items} empty="No message yet." />
      <ol className="messages" aria-label="Messages">
        {[...(messages.data?.items ?? [])].reverse().map((message) => (
          <li key={message.id} className={`message ${message.direction}`}>
            <p>{message.body || (message.template ? `template: ${message.template}` : "")}</p>
            <small>
              <Time at={message.occurred_at} />
              <MessageStatus message={message} />
            </small>
          </li>
        ))}
      </ol>
    </div>
  );
}

function OpenConversation({ leadId }: { leadId: string }) {
  const { me } = useAuth();
  const queryClient = useQueryClient();
  const conversation = useConversation(leadId);
  const markRead = useMutation({
    mutationFn: (conversationId: string) =>
      unwrap(
        api.POST("/api/v1/conversations/{conversation_id}/read", {
          params: { path: { conversation_id: conversationId } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["conversations"] }),
  });
  const unread = conversation.data?.unread_count ?? 0;
  const conversationId = conversation.data?.id;
  const mayWrite = can(me, "lead:write");
  const mayDecide = can(me, "ai_draft:work");
  const { mutate, isPending } = markRead;
  useEffect(() => {
    // Seen while open: messages arriving now count as read too.
    if (conversationId && unread > 0 && mayWrite && !isPending) mutate(conversationId);
  }, [conversationId, unread, mayWrite, isPending, mutate]);

  const lead = conversation.data?.lead;
  return (
    <section className="thread" aria-label="Conversation">
      <header className="thread-head">
        <h2>{lead ? lead.name || phone(lead.phone) : "Conversation"}</h2>
        {lead && (
          <span>
            {phone(lead.phone)} · <Link to={`/leads/${leadId}`}>lead page</Link>
          </span>
        )}
      </header>
      <QueryState query={conversation} what="the conversation" />
      {mayDecide && conversation.data && <HandlerControl leadId={leadId} handler={conversation.data.handler} />}
      <Thread leadId={leadId} />
      {mayDecide && <AiDrafts leadId={leadId} />}
      {mayWrite && conversation.data && <ReplyBox leadId={leadId} conversation={conversation.data} />}
    </section>
  );
}

export function InboxPage() {
  const { leadId } = useParams();
  const [owner, setOwner] = useState<Owner>("all");
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [q, setQ] = useState("");
  const [handler, setHandler] = useState<HandlerFilter>("any");
  const conversations = useQuery({
    queryKey: ["conversations", { owner, unreadOnly, q, handler }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/conversations", {
          params: {
            query: {
              owner,
              unread: unreadOnly,
              q: q || undefined,
              handler: handler === "any" ? undefined : handler,
              limit: 100,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <div className="inbox">
      <section className="conversations" aria-label="Conversations">
        <h1>Inbox</h1>
        <div className="filters">
          <SelectField label="Whose" value={owner} onChange={setOwner}>
            <option value="all">All</option>
            <option value="mine">Mine</option>
            <option value="unassigned">Unassigned</option>
          </SelectField>
          <SelectField label="Answered by" value={handler} onChange={setHandler}>
            <option value="any">Anyone</option>
            <option value="ai">AI agent</option>
            <option value="human">A person</option>
            <option value="unassigned">Nobody yet</option>
          </SelectField>
          <Checkbox label="Unread only" checked={unreadOnly} onChange={setUnreadOnly} />
          <Field label="Search" type="search" value={q} placeholder="name or phone" onChange={setQ} />
        </div>
        <QueryList
          query={conversations}
          what="conversations"
          items={conversations.data?.items}
          empty="No conversation here."
        />
        <ul>
          {conversations.data?.items.map((conversation) => (
            <li key={conversation.id} className={conversation.lead.id === leadId ? "active" : undefined}>
              <Link to={`/inbox/${conversation.lead.id}`} data-testid="conversation">
                <strong>
                  {conversation.lead.name || phone(conversation.lead.phone)}
                  {handlerBadge(conversation.handler) && (
                    <span className={`handler-badge ${conversation.handler}`}>
                      {" "}
                      {handlerBadge(conversation.handler)}
                    </span>
                  )}
                </strong>
                {conversation.unread_count > 0 ? (
                  <span className="badge" aria-label={`${conversation.unread_count} unread`}>
                    {conversation.unread_count}
                  </span>
                ) : (
                  <span />
                )}
                <span className="preview">{conversation.last_message_preview}</span>
                <Time at={conversation.last_message_at} />
              </Link>
            </li>
          ))}
        </ul>
      </section>
      {leadId ? <OpenConversation key={leadId} leadId={leadId} /> : <Empty>Pick a conversation.</Empty>}
    </div>
  );
}
