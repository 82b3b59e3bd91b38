"""task.blocks_enrollment: whether the enrollment waits for the task (a non-blocking task is closed by the API)

Revision ID: 0009_task_blocks_enrollment
Revises: 0008_sealed_credentials
Create Date: 2026-11-27 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_task_blocks_enrollment"
down_revision: str | None = "0008_sealed_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("task", sa.Column("blocks_enrollment", sa.Boolean(), server_default=sa.true(), nullable=False))
    # Tasks created before: non-blocking when their step (in the version the enrollment runs) says so.
    op.execute(
        """
        UPDATE task t SET blocks_enrollment = false
        FROM enrollment e JOIN sequence_version v ON v.id = e.sequence_version_id
        WHERE t.enrollment_id = e.id
          AND EXISTS (
            SELECT 1 FROM jsonb_array_elements(v.definition->'steps') step
            WHERE step->>'id' = t.step_id AND (step->>'wait_for_completion')::boolean IS FALSE
          )
        """
    )


def downgrade() -> None:
    op.drop_column("task", "blocks_enrollment")
