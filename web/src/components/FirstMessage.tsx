// A lead with no WhatsApp conversation yet (new, imported, called): the composer of the first message, as the
// tenant's provider allows it (GET /auth/me `whatsapp`): an approved template on the Cloud API, where no window is
// open before the lead writes, free text on Evolution. Once it is sent the conversation exists and replaces this.
import { useAuth } from "../auth/AuthContext";
import { can } from "../auth/permissions";
import { MessageComposer, NOT_WRITTEN_YET } from "./ReplyBox";
import { Empty } from "./States";

export function FirstMessage({ leadId }: { leadId: string }) {
  const { me } = useAuth();
  const options = me?.whatsapp;
  return (
    <>
      <Empty>No WhatsApp conversation yet.</Empty>
      {can(me, "lead:write") &&
        (options ? (
          <MessageComposer
            leadId={leadId}
            templateOnly={options.first_message === "template" ? NOT_WRITTEN_YET : null}
            first
          />
        ) : (
          <p className="reply-blocked" role="note">
            This tenant has no WhatsApp account, so nothing can be sent yet: an owner or admin sets it up in Settings.
          </p>
        ))}
    </>
  );
}
