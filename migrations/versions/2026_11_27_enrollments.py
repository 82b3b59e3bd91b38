"""enrollments: a lead's enrollment in a sequence version (one open per lead and sequence), its step history (also the daily-cap ledger) and tasks

Revision ID: 0005_enrollments
Revises: 0004_sequences
Create Date: 2026-11-27 03:39:44.884058
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0005_enrollments"
down_revision: str | None = "0004_sequences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrollment",
        columns.tenant_id(),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("sequence_version_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_step_index", sa.Integer(), nullable=True),
        sa.Column("current_step_id", sa.String(length=64), nullable=True),
        sa.Column("current_step_type", sa.String(length=40), nullable=True),
        sa.Column("next_action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_reason", sa.String(length=40), nullable=True),
        sa.Column("exit_detail", sa.String(length=500), nullable=True),
        sa.Column("steps_run", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("open_task_id", sa.Uuid(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("enrolled_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        columns.updated_at(),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("enrollment", "lead_id", "lead"),
        columns.foreign_key("enrollment", "sequence_id", "sequence"),
        columns.foreign_key("enrollment", "sequence_version_id", "sequence_version"),
        columns.foreign_key("enrollment", "tenant_id", "tenant"),
        columns.primary_key("enrollment"),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_enrollment_workflow_id")),
    )
    columns.create_index("enrollment", "lead_id")
    op.create_index(
        "ix_enrollment_tenant_sequence_status", "enrollment", ["tenant_id", "sequence_id", "status"], unique=False
    )
    op.create_index(
        "uq_enrollment_open_per_lead",
        "enrollment",
        ["sequence_id", "lead_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('active', 'paused')"),
    )
    op.create_table(
        "enrollment_step",
        columns.tenant_id(),
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("result", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        columns.uuid_id(),
        columns.foreign_key("enrollment_step", "enrollment_id", "enrollment"),
        columns.foreign_key("enrollment_step", "sequence_id", "sequence"),
        columns.foreign_key("enrollment_step", "tenant_id", "tenant"),
        columns.primary_key("enrollment_step"),
    )
    op.create_index("ix_enrollment_step_sequence", "enrollment_step", ["sequence_id", "step_id"], unique=False)
    op.create_index(
        "ix_enrollment_step_tenant_type_fired", "enrollment_step", ["tenant_id", "type", "fired_at"], unique=False
    )
    op.create_index("uq_enrollment_step_outcome", "enrollment_step", ["enrollment_id", "number", "result"], unique=True)
    op.create_table(
        "task",
        columns.tenant_id(),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("enrollment_id", sa.Uuid(), nullable=True),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("task", "assignee_id", "user", ondelete="SET NULL"),
        columns.foreign_key("task", "enrollment_id", "enrollment"),
        columns.foreign_key("task", "lead_id", "lead"),
        columns.foreign_key("task", "tenant_id", "tenant"),
        columns.primary_key("task"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_task_idempotency_key")),
    )
    columns.create_index("task", "enrollment_id")
    op.create_index("ix_task_inbox", "task", ["tenant_id", "assignee_id", "status", "due_at"], unique=False)
    columns.create_index("task", "lead_id")


def downgrade() -> None:
    columns.drop_index("task", "lead_id")
    op.drop_index("ix_task_inbox", table_name="task")
    columns.drop_index("task", "enrollment_id")
    op.drop_table("task")
    op.drop_index("uq_enrollment_step_outcome", table_name="enrollment_step")
    op.drop_index("ix_enrollment_step_tenant_type_fired", table_name="enrollment_step")
    op.drop_index("ix_enrollment_step_sequence", table_name="enrollment_step")
    op.drop_table("enrollment_step")
    op.drop_index(
        "uq_enrollment_open_per_lead",
        table_name="enrollment",
        postgresql_where=sa.text("status IN ('active', 'paused')"),
    )
    op.drop_index("ix_enrollment_tenant_sequence_status", table_name="enrollment")
    columns.drop_index("enrollment", "lead_id")
    op.drop_table("enrollment")
