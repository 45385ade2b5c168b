"""scheduling: the effects of the deadline checks and the daily digests, keyed once

ix_cases_deadline_id on cases (deadline, id) is the scheduler's keyset order: each batch
of due cases is one short index range scan. deadline_effects is unique on (case_id,
deadline, kind): a reminder at an offset, the escalation or the overdue mark happens once
per deadline of a case, across reruns, crashes and several schedulers. overdue_digests is unique on (org_id, day).

Revision ID: 0007_scheduling
Revises: 0006_notifications
Create Date: 2026-11-23 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_scheduling'
down_revision = '0006_notifications'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deadline_effects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_deadline_effects_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_effects')),
    sa.UniqueConstraint('case_id', 'deadline', 'kind', name='uq_deadline_effects_key')
    )
    # The scheduler reads cases in (deadline, id) keyset order (workflow.scheduling).
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_deadline_id', ['deadline', 'id'], unique=False)

    op.create_table('overdue_digests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('case_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_overdue_digests_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_overdue_digests')),
    sa.UniqueConstraint('org_id', 'day', name='uq_overdue_digests_org_day')
    )


def downgrade():
    op.drop_table('overdue_digests')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_deadline_id')
    op.drop_table('deadline_effects')
