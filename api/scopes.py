"""Dependency sets of the tenant routes that change things through a workflow: the request's session, the caller's
tenant and the workflow client, which the services behind those routes take as keywords (`**scope.kwargs`)."""

from dataclasses import dataclass, fields
from typing import Annotated, Any

from fastapi import Depends

from api.deps import LeadWorkflowsDep, SequenceWorkflowsDep, SessionDep
from api.security import CurrentTenant


@dataclass(frozen=True)
class _TenantScope:
    session: SessionDep
    tenant: CurrentTenant

    @property
    def kwargs(self) -> dict[str, Any]:
        """Each dependency by its field name: `session=`, `tenant=` and the subclass's `workflows=`."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True)
class LeadWorkflowScope(_TenantScope):
    workflows: LeadWorkflowsDep


@dataclass(frozen=True)
class SequenceWorkflowScope(_TenantScope):
    workflows: SequenceWorkflowsDep


LeadScope = Annotated[LeadWorkflowScope, Depends()]
SequenceScope = Annotated[SequenceWorkflowScope, Depends()]
