"""payments: a voucher number is unique per unit, not across the province

Each budget unit numbers its own payment vouchers; a global unique key made one unit's number
block another's and answered a poster that a number was taken by a unit it cannot see
(issue 16 item 5). The key becomes (unit_id, voucher_no); lookups by number alone (bank
refusals, settlement reports, the list filter) keep an index.

Downgrading fails if two units have used the same number since.

Revision ID: 0010_voucher_per_unit
Revises: 0009_journal
Create Date: 2026-11-24 08:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010_voucher_per_unit'
down_revision = '0009_journal'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_payments_voucher_no', type_='unique')
        batch_op.create_unique_constraint('uq_payments_unit_voucher', ['unit_id', 'voucher_no'])
        batch_op.create_index('ix_payments_voucher_no', ['voucher_no'], unique=False)


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_voucher_no')
        batch_op.drop_constraint('uq_payments_unit_voucher', type_='unique')
        batch_op.create_unique_constraint('uq_payments_voucher_no', ['voucher_no'])
