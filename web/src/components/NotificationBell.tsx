// The bell: the person's unread notifications, a list to read them, and a toast when one arrives live.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { onLiveEvent } from "../lib/LiveProvider";
import { Time } from "./Time";

const TOAST_MS = 6000;

export function NotificationBell() {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [toast, setToast] = useState<string | null>(null);
  const expecting = useRef(false);
  const newest = useRef<string | null>(null);
  const notifications = useQuery({
    queryKey: ["notifications"],
    queryFn: () => unwrap(api.GET("/api/v1/notifications", { params: { query: { limit: 20 } } })),
  });
  const markRead = useMutation({
    mutationFn: (id: string | null) =>
      unwrap(
        id
          ? api.POST("/api/v1/notifications/{notification_id}/read", { params: { path: { notification_id: id } } })
          : api.POST("/api/v1/notifications/read"),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["notifications"] }),
  });

  useEffect(() => onLiveEvent((message) => {
    if (message.type === "notification.created") expecting.current = true;
  }), []);

  const first = notifications.data?.items[0];
  useEffect(() => {
    // A live notification: once the list has it, say what it is.
    if (!first) return;
    if (expecting.current && newest.current !== first.id && !first.read_at) setToast(first.title);
    expecting.current = false;
    newest.current = first.id;
  }, [first]);
  useEffect(() => {
    if (!toast) return;
    const timer = setTimeout(() => setToast(null), TOAST_MS);
    return () => clearTimeout(timer);
  }, [toast]);

  const unread = notifications.data?.unread_count ?? 0;
  return (
    <div className="bell">
      <button
        type="button"
        aria-expanded={open}
        aria-label={unread ? `Notifications, ${unread} unread` : "Notifications"}
        onClick={() => setOpen(!open)}
      >
        <svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z"
          />
        </svg>
        {unread > 0 && <span className="badge" data-testid="notifications-unread">{unread}</span>}
      </button>
      {open && (
        <div className="bell-panel" role="dialog" aria-label="Notifications">
          <div className="toolbar">
            <strong>Notifications</strong>
            <button type="button" disabled={unread === 0} onClick={() => markRead.mutate(null)}>
              Mark all read
            </button>
          </div>
          {notifications.data?.items.length === 0 && <p className="state empty">Nothing yet.</p>}
          <ul>
            {notifications.data?.items.map((n) => (
              <li key={n.id} className={n.read_at ? "read" : "unread"}>
                {n.lead_id ? (
                  <Link
                    to={`/leads/${n.lead_id}`}
                    onClick={() => {
                      if (!n.read_at) markRead.mutate(n.id);
                      setOpen(false);
                    }}
                  >
                    {n.title}
                  </Link>
                ) : (
                  <span>{n.title}</span>
                )}
                <small>
                  {" "}
                  <Time at={n.created_at} />
                </small>
                {!n.read_at && (
                  <button type="button" className="link" onClick={() => markRead.mutate(n.id)}>
                    Mark read
                  </button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      {toast && (
        <div className="toast" role="status">
          {toast}
        </div>
      )}
    </div>
  );
}
