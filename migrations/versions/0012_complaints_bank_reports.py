"""complaints: channel (web, phone), who recorded a call, the receipt code's digest; bank_reports

Complaints received on a hotline are recorded by finance (Art. 20); a reporter who leaves a
contact gets a receipt code, of which only the SHA-256 is stored. An agent bank reports a
suspected violation without refusing the payment (Art. 10(四)6): one row per payment.

Revision ID: 0012_complaints_bank_reports
Revises: 0011_account_per_unit
Create Date: 2026-11-29 14:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012_complaints_bank_reports'
down_revision = '0011_account_per_unit'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_code_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=8), server_default='web', nullable=False))
        batch_op.add_column(sa.Column('recorded_by_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_complaints_receipt_code_sha256'), ['receipt_code_sha256'])
        batch_op.create_foreign_key(batch_op.f('fk_complaints_recorded_by_id_users'), 'users', ['recorded_by_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_complaints_channel'), "channel IN ('web', 'phone')")

    op.create_table('bank_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('finding', sa.Text(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['organisations.id'], name=op.f('fk_bank_reports_bank_id_organisations')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_bank_reports_payment_id_payments')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_bank_reports_reported_by_id_users')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_bank_reports_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_reports')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_bank_reports_payment_id'))
    )
    with op.batch_alter_table('bank_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_reports_bank_id'), ['bank_id'], unique=False)


def downgrade():
    with op.batch_alter_table('bank_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_reports_bank_id'))
    op.drop_table('bank_reports')

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint('ck_complaints_channel', type_='check')
        batch_op.drop_constraint(batch_op.f('fk_complaints_recorded_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_complaints_receipt_code_sha256'), type_='unique')
        batch_op.drop_column('recorded_by_id')
        batch_op.drop_column('channel')
        batch_op.drop_column('receipt_code_sha256')
