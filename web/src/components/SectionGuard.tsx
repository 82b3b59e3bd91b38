// A section's pages only for people whose role may open them: the navigation hides the others, this covers an
// address typed, bookmarked or followed from a link, which would otherwise show the API's raw 403s.
import type { ReactNode } from "react";
import { useAuth } from "../auth/AuthContext";
import { can, mayOpen, sectionOf } from "../auth/permissions";
import type { Action } from "../api/client";

/** What a person sees instead of a page their role may not open. */
export function NotForYourRole() {
  return (
    <p className="state" role="alert">
      This section is not available for your role.
    </p>
  );
}

/** `children` when the person may open the section at `path` (and perform `needs`, when given), else
 * NotForYourRole. */
export function SectionGuard({ path, needs, children }: { path: string; needs?: Action; children: ReactNode }) {
  const { me } = useAuth();
  const section = sectionOf(path);
  if (!section || !mayOpen(me, section) || (needs && !can(me, needs))) return <NotForYourRole />;
  return <>{children}</>;
}
