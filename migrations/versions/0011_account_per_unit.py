"""bank_accounts: a unit's record of an account, unique per unit; one number registered once

A unit's report of an account number another unit holds is stored as its own unregistered
record instead of answering that the number exists (issue 16 item 5); a number may still be
registered to one unit only (a partial unique index on the registered rows).

Downgrading fails if two units have recorded the same number since.

Revision ID: 0011_account_per_unit
Revises: 0010_voucher_per_unit
Create Date: 2026-11-24 08:20:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_account_per_unit'
down_revision = '0010_voucher_per_unit'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_bank_accounts_number', type_='unique')
        batch_op.create_unique_constraint('uq_bank_accounts_unit_number', ['unit_id', 'number'])
        batch_op.create_index('ix_bank_accounts_number', ['number'], unique=False)
        batch_op.create_index('uq_bank_accounts_registered_number', ['number'], unique=True,
                              sqlite_where=sa.text('registered'), postgresql_where=sa.text('registered'))


def downgrade():
    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.drop_index('uq_bank_accounts_registered_number')
        batch_op.drop_index('ix_bank_accounts_number')
        batch_op.drop_constraint('uq_bank_accounts_unit_number', type_='unique')
        batch_op.create_unique_constraint('uq_bank_accounts_number', ['number'])
