// The API's message for a failed change, the same in every settings form.
import { errorMessage } from "../../api/client";

export function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {errorMessage(error)}
    </p>
  );
}
