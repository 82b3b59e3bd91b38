// The signed-in person (GET /auth/me), login and logout, and what happens when the session ends under the app.
import { QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ApiError, CSRF_COOKIE, readCookie, setUnauthorizedListener, unwrap, type Me } from "../api/client";

interface AuthState {
  me: Me | null;
  loading: boolean;
  /** Set when a session that was open stopped being accepted (expired, revoked, logged out elsewhere). */
  expired: boolean;
  login: (email: string, password: string) => Promise<Me>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);
export const ME_KEY = ["me"] as const;

/** Forget every answer but "who am I" (its observers stay subscribed to that query, so it is set, not removed). */
function forgetData(queryClient: QueryClient): void {
  queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] });
}

async function fetchMe(): Promise<Me | null> {
  // The session's CSRF cookie is set and cleared with its session cookie (which scripts cannot read): without it
  // there is no session to ask about, and asking would only log the API's 401 on every visit to the login page.
  if (readCookie(CSRF_COOKIE) === null) return null;
  try {
    return await unwrap(api.GET("/api/v1/auth/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [expired, setExpired] = useState(false);
  const meQuery = useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: Infinity, retry: false });
  const me = meQuery.data ?? null;

  useEffect(() => {
    setUnauthorizedListener(() => {
      if (queryClient.getQueryData(ME_KEY)) {
        setExpired(true);
        queryClient.setQueryData(ME_KEY, null);
        forgetData(queryClient);
      }
    });
    return () => setUnauthorizedListener(null);
  }, [queryClient]);

  const login = useCallback(
    async (email: string, password: string) => {
      await unwrap(api.POST("/api/v1/auth/login", { body: { email, password } }));
      const fresh = await unwrap(api.GET("/api/v1/auth/me"));
      forgetData(queryClient);
      queryClient.setQueryData(ME_KEY, fresh);
      setExpired(false);
      return fresh;
    },
    [queryClient],
  );

  const logout = useCallback(async () => {
    try {
      await unwrap(api.POST("/api/v1/auth/logout"));
    } finally {
      forgetData(queryClient);
      queryClient.setQueryData(ME_KEY, null);
      setExpired(false);
    }
  }, [queryClient]);

  const value = useMemo(
    () => ({ me, loading: meQuery.isPending, expired, login, logout }),
    [me, meQuery.isPending, expired, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
