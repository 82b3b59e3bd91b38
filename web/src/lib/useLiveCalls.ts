// The tenant's live calls (GET /calls/live), polled every 3 s: calls change faster than anything tells the app.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export function useLiveCalls(enabled: boolean) {
  return useQuery({
    queryKey: ["calls", "live"],
    queryFn: () => unwrap(api.GET("/api/v1/calls/live")),
    refetchInterval: 3000,
    enabled,
  });
}
