// The API's problems with a sequence, each with the path of the field it is about.
import type { ComponentProps } from "react";
import type { PathMessage } from "../lib/sequenceErrors";

export function PathMessages({ errors, ...list }: ComponentProps<"ul"> & { errors: PathMessage[] }) {
  return (
    <ul {...list}>
      {errors.map((e) => (
        <li key={`${e.path}:${e.message}`}>
          {e.path && <code>{e.path}</code>} {e.message}
        </li>
      ))}
    </ul>
  );
}
