"""SQLAlchemy 2 ORM models; importing this package registers every table on `Base.metadata`."""

from models.ai_agent_settings import AiAgentSettings
from models.ai_budget_alert import AiBudgetAlert
from models.ai_draft import AiDraft
from models.ai_token_month import AiTokenMonth
from models.ai_usage import AiUsage
from models.api_key import ApiKey
from models.base import Base
from models.call import Call
from models.conversation import Conversation
from models.daily_send_count import DailySendCount
from models.enrollment import Enrollment, EnrollmentStep
from models.feature_flag import TenantFeatureFlag
from models.job import Job
from models.lead import Lead
from models.message import Message
from models.notification import Notification
from models.outbox import OutboxMessage
from models.scheduled_send import ScheduledSend
from models.sequence import Sequence, SequenceVersion
from models.shard import ShardAssignment
from models.status import StatusDefinition
from models.task import Task
from models.telephony_account import TelephonyAccount
from models.tenant import Tenant
from models.timeline import TimelineEvent
from models.user import User
from models.webhook_event import WebhookEvent
from models.webhook_inbox import WebhookInbox
from models.whatsapp_account import WhatsAppAccount

__all__ = [
    "AiAgentSettings",
    "AiBudgetAlert",
    "AiDraft",
    "AiTokenMonth",
    "AiUsage",
    "ApiKey",
    "Base",
    "Call",
    "Conversation",
    "DailySendCount",
    "Enrollment",
    "EnrollmentStep",
    "Job",
    "Lead",
    "Message",
    "Notification",
    "OutboxMessage",
    "ScheduledSend",
    "Sequence",
    "SequenceVersion",
    "ShardAssignment",
    "StatusDefinition",
    "Task",
    "TelephonyAccount",
    "Tenant",
    "TenantFeatureFlag",
    "TimelineEvent",
    "User",
    "WebhookEvent",
    "WebhookInbox",
    "WhatsAppAccount",
]
