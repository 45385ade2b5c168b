"""Registers that make payments legitimate (issue 11): payees confirmed, account changes, 归垫, special-fund rules

Individual payee filings get a status (:mod:`workflow.machines.payee`): a unit's filing counts
for the Art. 16 rule only once finance has confirmed it. Filings already stored become
``confirmed``: until now every filing counted at once, and payments screened against them were
accepted on that footing; turning them all ``pending`` would make every payment to people
already on file warned overnight, for filings nobody asked finance to look at. Finance can
review them in its list (their journal shows who filed them); only new filings and a unit's
changes wait for confirmation.

Account changes (Art. 13(一)): ``account_change_reports``, one row per report of a change at the
bank, with its due time and whether it was late; ``bank_accounts.bank_closed_on``, the day a
unit reported an account closed at the bank (none for accounts already stored).

Approved 归垫 (Art. 13(三)5, 13(四)): ``reimbursement_approvals``, finance's register, and
``reimbursement_draws``, the payments honoured on an entry. Payments stored before claimed
exception 5 on the document alone; they keep their warnings (none), and the register starts empty.

Internal rules for special funds (Art. 17): ``special_fund_rules``, the units' filings with their
status (:mod:`workflow.machines.special_fund_rules`) and the attached text's facts.

Revision ID: 0017_registers
Revises: 0016_case_last_hash
Create Date: 2026-11-29 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_registers'
down_revision = '0016_case_last_hash'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payee_registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('status_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE payee_registrations SET status = 'confirmed', decided_at = updated_at"))
    with op.batch_alter_table('payee_registrations', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=12), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_payee_registrations_decided_by_id_users'), 'users',
                                    ['decided_by_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_payee_registrations_status'),
                                         "status IN ('pending', 'confirmed', 'rejected')")
        batch_op.create_index('ix_payee_registrations_status_id', ['status', 'id'], unique=False)

    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_closed_on', sa.Date(), nullable=True))
    op.create_table('account_change_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=8), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('details', sa.String(length=500), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("change IN ('opened', 'changed', 'closed')", name=op.f('ck_account_change_reports_change')),
    sa.ForeignKeyConstraint(['account_id'], ['bank_accounts.id'], name=op.f('fk_account_change_reports_account_id_bank_accounts')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_account_change_reports_reported_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['organisations.id'], name=op.f('fk_account_change_reports_unit_id_organisations')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_account_change_reports_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_change_reports'))
    )
    op.create_index('ix_account_change_reports_unit_id_id', 'account_change_reports', ['unit_id', 'id'], unique=False)

    op.create_table('reimbursement_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('document_ref', sa.String(length=200), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_org_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_reimbursement_approvals_amount_positive')),
    sa.CheckConstraint('remaining >= 0 AND remaining <= amount',
                       name=op.f('ck_reimbursement_approvals_remaining_within_amount')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_reimbursement_approvals_approved_by_id_users')),
    sa.ForeignKeyConstraint(['approved_by_org_id'], ['organisations.id'], name=op.f('fk_reimbursement_approvals_approved_by_org_id_organisations')),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_reimbursement_approvals_indicator_id_indicators')),
    sa.ForeignKeyConstraint(['unit_id'], ['organisations.id'], name=op.f('fk_reimbursement_approvals_unit_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reimbursement_approvals')),
    sa.UniqueConstraint('unit_id', 'document_ref', name='uq_reimbursement_approvals_unit_document')
    )
    op.create_index('ix_reimbursement_approvals_unit_id_id', 'reimbursement_approvals', ['unit_id', 'id'], unique=False)
    op.create_table('reimbursement_draws',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('approval_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('returned', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approval_id'], ['reimbursement_approvals.id'], name=op.f('fk_reimbursement_draws_approval_id_reimbursement_approvals')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_reimbursement_draws_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reimbursement_draws')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_reimbursement_draws_payment_id'))
    )
    op.create_index(op.f('ix_reimbursement_draws_approval_id'), 'reimbursement_draws', ['approval_id'], unique=False)

    op.create_table('special_fund_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('fund_code', sa.String(length=200), nullable=False),
    sa.Column('document_ref', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('stored_name', sa.String(length=64), nullable=True),
    sa.Column('file_type', sa.String(length=16), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_special_fund_rules_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_special_fund_rules_decided_by_id_users')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name=op.f('fk_special_fund_rules_filed_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['organisations.id'], name=op.f('fk_special_fund_rules_unit_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_special_fund_rules'))
    )
    op.create_index('ix_special_fund_rules_status_id', 'special_fund_rules', ['status', 'id'], unique=False)
    op.create_index('ix_special_fund_rules_unit_id_id', 'special_fund_rules', ['unit_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_special_fund_rules_unit_id_id', table_name='special_fund_rules')
    op.drop_index('ix_special_fund_rules_status_id', table_name='special_fund_rules')
    op.drop_table('special_fund_rules')
    op.drop_index(op.f('ix_reimbursement_draws_approval_id'), table_name='reimbursement_draws')
    op.drop_table('reimbursement_draws')
    op.drop_index('ix_reimbursement_approvals_unit_id_id', table_name='reimbursement_approvals')
    op.drop_table('reimbursement_approvals')
    op.drop_index('ix_account_change_reports_unit_id_id', table_name='account_change_reports')
    op.drop_table('account_change_reports')
    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.drop_column('bank_closed_on')
    with op.batch_alter_table('payee_registrations', schema=None) as batch_op:
        batch_op.drop_index('ix_payee_registrations_status_id')
        batch_op.drop_constraint(batch_op.f('ck_payee_registrations_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_payee_registrations_decided_by_id_users'), type_='foreignkey')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by_id')
        batch_op.drop_column('status_reason')
        batch_op.drop_column('status')
