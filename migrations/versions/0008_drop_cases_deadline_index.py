"""drop ix_cases_deadline: ix_cases_deadline_id (deadline, id) serves every query on deadline

Every query that filters or orders cases by deadline (the scheduler's due and reminder
ranges, the ``overdue`` filter of the case list) is served by the leading column of
ix_cases_deadline_id; the single-column index only cost a second write per case update.

Revision ID: 0008_drop_cases_deadline_index
Revises: 0007_scheduling
Create Date: 2026-11-23 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008_drop_cases_deadline_index'
down_revision = '0007_scheduling'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_cases_deadline', table_name='cases')


def downgrade():
    op.create_index('ix_cases_deadline', 'cases', ['deadline'], unique=False)
