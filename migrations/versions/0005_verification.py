"""verification steps and answers on warnings (Art. 11(二)), bank refusals (Art. 28(三)),
settlement lines (Art. 10(四)), complaints and their rate-limit counters (Art. 20)

Revision ID: 0005_verification
Revises: 0004_documents
Create Date: 2026-11-23 12:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_verification'
down_revision = '0004_documents'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('verification_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('addressee_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('phone', 'documents', 'interview', 'onsite', 'focus_letter', 'joint_investigation')", name=op.f('ck_verification_steps_kind')),
    sa.ForeignKeyConstraint(['addressee_id'], ['organisations.id'], name=op.f('fk_verification_steps_addressee_id_organisations')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_verification_steps_created_by_id_users')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_verification_steps_document_id_documents')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_verification_steps_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_steps'))
    )
    with op.batch_alter_table('verification_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_steps_addressee_id'), ['addressee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_steps_warning_id'), ['warning_id'], unique=False)

    op.create_table('warning_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('evidence_ref', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('explanation', 'materials', 'findings')", name=op.f('ck_warning_responses_kind')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_warning_responses_author_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_warning_responses_org_id_organisations')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_warning_responses_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_responses'))
    )
    with op.batch_alter_table('warning_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warning_responses_warning_id'), ['warning_id'], unique=False)

    op.create_table('bank_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['organisations.id'], name=op.f('fk_bank_refusals_bank_id_organisations')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_bank_refusals_payment_id_payments')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_bank_refusals_reported_by_id_users')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_bank_refusals_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_refusals')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_bank_refusals_payment_id'))
    )
    with op.batch_alter_table('bank_refusals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_refusals_bank_id'), ['bank_id'], unique=False)

    op.create_table('settlement_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('voucher_no', sa.String(length=64), nullable=True),
    sa.Column('payer_account', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('payee_name', sa.String(length=200), nullable=False),
    sa.Column('payee_account', sa.String(length=64), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome IN ('matched', 'case_opened')", name=op.f('ck_settlement_lines_outcome')),
    sa.ForeignKeyConstraint(['bank_id'], ['organisations.id'], name=op.f('fk_settlement_lines_bank_id_organisations')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_settlement_lines_case_id_cases')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_settlement_lines_payment_id_payments')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_settlement_lines_reported_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_lines')),
    sa.UniqueConstraint('bank_id', 'fingerprint', name='uq_settlement_lines_fingerprint')
    )
    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_lines_payment_id'), ['payment_id'], unique=False)

    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finance_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('subject_text', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('voucher_no', sa.String(length=64), nullable=True),
    sa.Column('reporter_name', sa.String(length=100), nullable=True),
    sa.Column('reporter_phone', sa.String(length=40), nullable=True),
    sa.Column('reporter_email', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('triaged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('triaged_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('warning_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('received', 'warning', 'case', 'dismissed')", name=op.f('ck_complaints_status')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_complaints_case_id_cases')),
    sa.ForeignKeyConstraint(['finance_id'], ['organisations.id'], name=op.f('fk_complaints_finance_id_organisations')),
    sa.ForeignKeyConstraint(['triaged_by_id'], ['users.id'], name=op.f('fk_complaints_triaged_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['organisations.id'], name=op.f('fk_complaints_unit_id_organisations')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_complaints_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_finance_id'), ['finance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_unit_id'), ['unit_id'], unique=False)

    op.create_table('complaint_rate',
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('window_no', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('client', 'window_no', name=op.f('pk_complaint_rate'))
    )


def downgrade():
    op.drop_table('complaint_rate')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_unit_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_finance_id'))
    op.drop_table('complaints')
    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_lines_payment_id'))
    op.drop_table('settlement_lines')
    with op.batch_alter_table('bank_refusals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_refusals_bank_id'))
    op.drop_table('bank_refusals')
    with op.batch_alter_table('warning_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warning_responses_warning_id'))
    op.drop_table('warning_responses')
    with op.batch_alter_table('verification_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_steps_warning_id'))
        batch_op.drop_index(batch_op.f('ix_verification_steps_addressee_id'))
    op.drop_table('verification_steps')
