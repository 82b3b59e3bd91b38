"""SQLAlchemy 2 ORM models; importing this package registers every table on `Base.metadata`."""

from models.api_key import ApiKey
from models.base import Base
from models.lead import Lead
from models.status import StatusDefinition
from models.tenant import Tenant
from models.timeline import TimelineEvent
from models.user import User

__all__ = ["ApiKey", "Base", "Lead", "StatusDefinition", "Tenant", "TimelineEvent", "User"]
