// Keeps one live event stream open while someone of a tenant is logged in, and refreshes what it says changed.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, type ReactNode } from "react";
import { ME_KEY, useAuth } from "../auth/AuthContext";
import { LiveConnection, type LiveMessage } from "./liveEvents";
import { staleQueries } from "./liveQueries";

type Listener = (message: LiveMessage) => void;
const listeners = new Set<Listener>();

/** Hear every live event (e.g. to show a toast); returns the unsubscribe function. */
export function onLiveEvent(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const { me } = useAuth();
  const queryClient = useQueryClient();
  const hasTenant = !!me?.tenant;
  const userKey = me?.user?.id ?? me?.api_key?.id ?? null;

  useEffect(() => {
    if (!hasTenant || !userKey) return;
    let opened = false;
    const connection = new LiveConnection({
      url: "/api/v1/events",
      onMessage: (message) => {
        const stale = staleQueries(message);
        if (stale === "all") void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== ME_KEY[0] });
        else for (const queryKey of stale) void queryClient.invalidateQueries({ queryKey });
        listeners.forEach((listener) => listener(message));
      },
      onOpen: () => {
        // A reconnection may have missed events the server no longer holds: refresh what is on screen.
        if (opened) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== ME_KEY[0] });
        opened = true;
      },
      // The stream was refused: if the session ended, asking who we are brings back the login.
      onGiveUp: () => void queryClient.invalidateQueries({ queryKey: ME_KEY }),
    });
    connection.start();
    return () => connection.stop();
  }, [hasTenant, userKey, queryClient]);

  return <>{children}</>;
}
