"""The WhatsApp 24-hour customer-service window. Pure: used by the send activity and safe in workflows.

Free text may be sent only within `window` of the lead's last inbound message; outside it (or when the lead never
wrote) only an approved template may be sent. A step may name a fallback template for that case; without one the
send cannot happen and the caller records why.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_WINDOW = timedelta(hours=24)


class SendMode(StrEnum):
    TEXT = "text"
    TEMPLATE = "template"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class WindowDecision:
    mode: SendMode
    template: str | None = None
    reason: str | None = None


def window_open(last_inbound_at: datetime | None, now: datetime, window: timedelta = DEFAULT_WINDOW) -> bool:
    return last_inbound_at is not None and now - last_inbound_at < window


def decide_send(
    *,
    wants_template: str | None,
    fallback_template: str | None,
    last_inbound_at: datetime | None,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    provider_has_window: bool = True,
) -> WindowDecision:
    """How a message may go out: the template asked for, free text inside the window, else the fallback template.

    `provider_has_window=False` (Evolution/Baileys: no templates, no window) always allows free text.
    """
    if wants_template:
        return WindowDecision(SendMode.TEMPLATE, template=wants_template)
    if not provider_has_window or window_open(last_inbound_at, now, window):
        return WindowDecision(SendMode.TEXT)
    if fallback_template:
        return WindowDecision(SendMode.TEMPLATE, template=fallback_template)
    hours = int(window.total_seconds() // 3600)
    if last_inbound_at is None:
        reason = f"the lead has never written: free text needs a message from the lead within {hours} h; "
    else:
        reason = f"the lead last wrote at {last_inbound_at.isoformat()}, more than {hours} h ago; "
    return WindowDecision(SendMode.REFUSED, reason=reason + "send an approved template (set a fallback template)")
