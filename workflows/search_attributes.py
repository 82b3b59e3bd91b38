"""Custom search attributes every Leadflow workflow may carry; the dev server and tests register exactly these."""

from temporalio.common import SearchAttributeKey

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
LEAD_ID = SearchAttributeKey.for_keyword("LeadId")
LEAD_STATUS = SearchAttributeKey.for_keyword("LeadStatus")
ASSIGNED_AGENT = SearchAttributeKey.for_keyword("AssignedAgent")

ALL = [TENANT_ID, LEAD_ID, LEAD_STATUS, ASSIGNED_AGENT]
