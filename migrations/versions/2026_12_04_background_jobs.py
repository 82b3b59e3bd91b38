"""job: bulk enrollments and CSV imports answer at once and start their workflows behind the request

`workflow_started_at` on lead and enrollment marks a confirmed workflow start, so the sweeper can find rows whose
start was lost (a crash between the commit and the start). Leads that exist already count as started: before this,
each was started by its request. Enrollments keep NULL: one still at revision 0 may never have started.

Revision ID: 0015_background_jobs
Revises: 0014_webhook_inbox
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0015_background_jobs"
down_revision: str | None = "0014_webhook_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job",
        *columns.tenant_owned("job"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("skipped_by_reason", postgresql.JSONB(), nullable=False),
        sa.Column("skipped_items", postgresql.JSONB(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("failed_by_reason", postgresql.JSONB(), nullable=False),
        sa.Column("failed_items", postgresql.JSONB(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("item_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("retry_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("next_offset", sa.Integer(), nullable=False),
        columns.created_at(),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        columns.updated_at(),
    )
    op.create_index("ix_job_tenant_created", "job", ["tenant_id", "created_at"])
    op.create_index(
        "ix_job_open_updated", "job", ["updated_at"], postgresql_where=sa.text("state IN ('queued', 'running')")
    )
    op.add_column("lead", sa.Column("workflow_started_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE lead SET workflow_started_at = created_at")
    op.create_index(
        "ix_lead_workflow_not_started", "lead", ["created_at"], postgresql_where=sa.text("workflow_started_at IS NULL")
    )
    op.add_column("enrollment", sa.Column("workflow_started_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_enrollment_workflow_not_started",
        "enrollment",
        ["created_at"],
        postgresql_where=sa.text("workflow_started_at IS NULL AND revision = 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_enrollment_workflow_not_started", table_name="enrollment")
    op.drop_column("enrollment", "workflow_started_at")
    op.drop_index("ix_lead_workflow_not_started", table_name="lead")
    op.drop_column("lead", "workflow_started_at")
    op.drop_table("job")
