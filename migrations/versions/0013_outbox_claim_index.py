"""outbox_messages: the delivery's claim reads one channel's pending rows in due order

ix_outbox_messages_claim on (status, channel, next_attempt_at, id) replaces
ix_outbox_messages_due on (status, next_attempt_at). The claim asks for one channel's pending
rows by due time: with the channel in the index it is a range scan that stops at its LIMIT.
The old index made every claim of inbox rows read past all the pending e-mail rows first
(all of them while SMTP is not configured, issue 15), and ordered by id only after a sort on
PostgreSQL.

Revision ID: 0013_outbox_claim_index
Revises: 0012_complaints_bank_reports
Create Date: 2026-11-29 14:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_outbox_claim_index'
down_revision = '0012_complaints_bank_reports'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_claim', ['status', 'channel', 'next_attempt_at', 'id'],
                              unique=False)
        batch_op.drop_index('ix_outbox_messages_due')


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.drop_index('ix_outbox_messages_claim')
