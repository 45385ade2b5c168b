"""step_requests: what a verification step asks of whom, by when; its reminders and overdue notices

One row per party a step asks (Art. 11(二)2-5: the documents request the unit and the carrying
bank, the interview the unit, the focus letter the unit and its competent department, the joint
investigation the oversight body), with its due moment (the end of the local working day) and
``chase_at``, the due moment while the scheduler still chases it (NULL once answered, told
overdue or the warning decided), read in (chase_at, id) keyset order through its index.
step_request_effects is unique on (request_id, kind): each reminder and the overdue notice to
finance once, across reruns and several schedulers. warning_responses.step_id: the step an
answer names.

Steps recorded before this migration have no rows: they are shown without their parties and
are not chased.

Revision ID: 0021_step_requests
Revises: 0020_warning_transfers
Create Date: 2026-11-29 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_step_requests'
down_revision = '0020_warning_transfers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('warning_responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_warning_responses_step_id_verification_steps'),
                                    'verification_steps', ['step_id'], ['id'])

    op.create_table('step_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('finance_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appointment_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('chase_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['finance_id'], ['organisations.id'], name=op.f('fk_step_requests_finance_id_organisations')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_step_requests_org_id_organisations')),
    sa.ForeignKeyConstraint(['response_id'], ['warning_responses.id'], name=op.f('fk_step_requests_response_id_warning_responses')),
    sa.ForeignKeyConstraint(['step_id'], ['verification_steps.id'], name=op.f('fk_step_requests_step_id_verification_steps')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_step_requests_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_requests')),
    sa.UniqueConstraint('step_id', 'org_id', name='uq_step_requests_step_org')
    )
    with op.batch_alter_table('step_requests', schema=None) as batch_op:
        # The scheduler's keyset order over the requests still chased (workflow.step_requests).
        batch_op.create_index('ix_step_requests_chase_at_id', ['chase_at', 'id'], unique=False)
        batch_op.create_index('ix_step_requests_warning_id_org_id', ['warning_id', 'org_id'], unique=False)

    op.create_table('step_request_effects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['step_requests.id'], name=op.f('fk_step_request_effects_request_id_step_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_request_effects')),
    sa.UniqueConstraint('request_id', 'kind', name='uq_step_request_effects_key')
    )


def downgrade():
    op.drop_table('step_request_effects')
    with op.batch_alter_table('step_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_step_requests_warning_id_org_id')
        batch_op.drop_index('ix_step_requests_chase_at_id')
    op.drop_table('step_requests')
    with op.batch_alter_table('warning_responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_warning_responses_step_id_verification_steps'), type_='foreignkey')
        batch_op.drop_column('step_id')
