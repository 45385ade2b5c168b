"""cases.last_hash: the hash of the case's last event, kept on the case row

A case action chains its event on the previous one's hash; the case row now holds it, written
in the same UPDATE as the version, so an action no longer reads it from the history (issue 15).
``audit verify`` compares it with the last event's hash. Filled from each case's last event
(the chain's start, 64 zeros, for a case with no event left: ``audit verify`` reports that case
as it did before).

Revision ID: 0016_case_last_hash
Revises: 0015_list_indexes
Create Date: 2026-11-29 14:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016_case_last_hash'
down_revision = '0015_list_indexes'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_hash', sa.String(length=64), nullable=True))
    op.execute(sa.text(
        "UPDATE cases SET last_hash = COALESCE((SELECT e.hash FROM case_events e WHERE e.case_id = cases.id "
        "ORDER BY e.seq DESC LIMIT 1), :genesis)").bindparams(genesis=GENESIS))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('last_hash', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('last_hash')
