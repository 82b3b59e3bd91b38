// Marks queries stale after a change, so the views showing them fetch them again.
import { useQueryClient, type QueryKey } from "@tanstack/react-query";

/** A function that invalidates the queries under each key given; it settles once they have been fetched again. */
export function useInvalidate(): (...keys: QueryKey[]) => Promise<void> {
  const queryClient = useQueryClient();
  return async (...keys) => {
    await Promise.all(keys.map((queryKey) => queryClient.invalidateQueries({ queryKey })));
  };
}
