// Loading, error and empty states, the same everywhere.
import type { ReactNode } from "react";
import { errorMessage } from "../api/client";

export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status">
      Loading {what}…
    </p>
  );
}

export function Failed({ error }: { error: unknown }) {
  return (
    <p className="state error" role="alert">
      {errorMessage(error)}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** One of the three states for a query, or null when its data is there. */
export function QueryState({ query, what }: { query: { isPending: boolean; error: unknown }; what: string }) {
  if (query.isPending) return <Loading what={what} />;
  if (query.error) return <Failed error={query.error} />;
  return null;
}
