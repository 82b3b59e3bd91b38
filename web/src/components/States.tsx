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

/** The API's message for a failed change (nothing while there is none), after an optional prefix. */
export function ErrorLine({ error, prefix }: { error: unknown; prefix?: string }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {prefix}
      {errorMessage(error)}
    </p>
  );
}

type QueryLike = { isPending: boolean; error: unknown };

/** One of the three states for a query, or null when its data is there. */
export function QueryState({ query, what }: { query: QueryLike; what: string }) {
  if (query.isPending) return <Loading what={what} />;
  if (query.error) return <Failed error={query.error} />;
  return null;
}

/**
 * A list query's states: loading or failed, the `empty` line when it has no items, else what `children` makes of
 * the items (nothing without children, for a list that is there either way).
 */
export function QueryList<T>({
  query,
  what,
  items,
  empty,
  children,
}: {
  query: QueryLike;
  what: string;
  items: readonly T[] | undefined;
  empty: ReactNode;
  children?: (items: readonly T[]) => ReactNode;
}) {
  return (
    <>
      <QueryState query={query} what={what} />
      {items && items.length === 0 && <Empty>{empty}</Empty>}
      {items && items.length > 0 && children?.(items)}
    </>
  );
}

/**
 * A list table: its column headings (false leaves one out, "" is a blank one) above the rows given. A table wider
 * than the screen (a phone) scrolls sideways in its own box, never the page.
 */
export function DataTable({ columns, children }: { columns: (string | false)[]; children: ReactNode }) {
  return (
    <div className="table-scroll">
      <table className="list">
      <thead>
        <tr>
          {columns
            .filter((column) => column !== false)
            .map((column, index) => (
              <th key={index}>{column}</th>
            ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
      </table>
    </div>
  );
}
