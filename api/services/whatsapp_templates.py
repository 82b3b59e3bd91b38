"""The WhatsApp templates a tenant's account knows, for the inbox's template picker.

Meta keeps the approved list; Leadflow knows the templates the tenant's sequences name (a step's `template` or
`fallback_template`, with language and parameter count) and the ones its messages were sent with. Both are merged
by name (and language where a sequence gives one); most recently sent first, then by name.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.whatsapp import WhatsAppTemplatePublic
from repositories.messages import MessageRepository
from repositories.sequences import SequenceRepository

TEMPLATE_FIELDS = ("template", "fallback_template")


def _step_templates(definition: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for step in definition.get("steps") or []:
        for field in TEMPLATE_FIELDS:
            template = step.get(field) if isinstance(step, dict) else None
            if isinstance(template, dict) and template.get("name"):
                found.append(template)
    return found


async def known_templates(*, session: AsyncSession, tenant_id: uuid.UUID) -> list[WhatsAppTemplatePublic]:
    """Templates of the tenant's sequences and sent messages, most recently sent first."""
    by_key: dict[tuple[str, str | None], WhatsAppTemplatePublic] = {}
    for sequence in await SequenceRepository(session).list(tenant_id=tenant_id):
        for template in _step_templates(sequence.definition):
            key = (str(template["name"]), str(template.get("language") or "en"))
            known = by_key.setdefault(
                key,
                WhatsAppTemplatePublic(
                    name=key[0],
                    language=key[1],
                    parameter_count=len(template.get("parameters") or []),
                    sequences=[],
                    sent_count=0,
                    last_sent_at=None,
                ),
            )
            if sequence.name not in known.sequences:
                known.sequences.append(sequence.name)
    for name, count, at in await MessageRepository(session).sent_templates(tenant_id=tenant_id):
        named = [t for (n, _), t in by_key.items() if n == name]
        if not named:
            named = [
                by_key.setdefault(
                    (name, None),
                    WhatsAppTemplatePublic(
                        name=name, language=None, parameter_count=None, sequences=[], sent_count=0, last_sent_at=None
                    ),
                )
            ]
        for known in named:
            known.sent_count += count
            known.last_sent_at = at
    return sorted(by_key.values(), key=_recent_first)


def _recent_first(template: WhatsAppTemplatePublic) -> tuple[bool, float, str]:
    sent: datetime | None = template.last_sent_at
    return (sent is None, -sent.timestamp() if sent else 0.0, template.name)
