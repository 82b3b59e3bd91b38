"""Custom search attributes every Leadflow workflow may carry; the dev server and tests register exactly these."""

from temporalio.common import SearchAttributeKey

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
LEAD_ID = SearchAttributeKey.for_keyword("LeadId")
LEAD_STATUS = SearchAttributeKey.for_keyword("LeadStatus")
ASSIGNED_AGENT = SearchAttributeKey.for_keyword("AssignedAgent")
SEQUENCE_ID = SearchAttributeKey.for_keyword("SequenceId")
ENROLLMENT_STATUS = SearchAttributeKey.for_keyword("EnrollmentStatus")
CALL_STATUS = SearchAttributeKey.for_keyword("CallStatus")
CALL_DISPOSITION = SearchAttributeKey.for_keyword("CallDisposition")

ALL = [TENANT_ID, LEAD_ID, LEAD_STATUS, ASSIGNED_AGENT, SEQUENCE_ID, ENROLLMENT_STATUS, CALL_STATUS, CALL_DISPOSITION]
