"""indicators that change: recovered amount, approval and issue dates, the adjustments ledger

Finance adjusts, transfers, freezes, unfreezes and recovers indicators (Art. 10(三)14, 14); each
change is a row of ``indicator_adjustments``. ``indicators.recovered`` is the part marked for
recovery (应收回); ``approved_on`` and ``issued_on`` let finance's own issuance be watched
(Art. 10(一)). Existing indicators have nothing recovered and no dates.

Revision ID: 0024_indicator_execution
Revises: 0023_payment_plans
Create Date: 2026-11-29 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0024_indicator_execution'
down_revision = '0023_payment_plans'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovered', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('approved_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('issued_on', sa.Date(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_indicators_recovered_within_amount'),
                                         'recovered >= 0 AND recovered <= amount')
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.alter_column('recovered', existing_type=sa.BigInteger(), server_default=None)

    op.create_table('indicator_adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('change', sa.BigInteger(), nullable=True),
    sa.Column('counterpart_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('document_ref', sa.String(length=200), nullable=False),
    sa.Column('amount_after', sa.BigInteger(), nullable=False),
    sa.Column('recovered_after', sa.BigInteger(), nullable=False),
    sa.Column('frozen_after', sa.Boolean(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('adjust', 'transfer', 'freeze', 'unfreeze', 'recover')",
                       name=op.f('ck_indicator_adjustments_kind')),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'],
                            name=op.f('fk_indicator_adjustments_indicator_id_indicators')),
    sa.ForeignKeyConstraint(['counterpart_id'], ['indicators.id'],
                            name=op.f('fk_indicator_adjustments_counterpart_id_indicators')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                            name=op.f('fk_indicator_adjustments_org_id_organisations')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                            name=op.f('fk_indicator_adjustments_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_adjustments'))
    )
    with op.batch_alter_table('indicator_adjustments', schema=None) as batch_op:
        batch_op.create_index('ix_indicator_adjustments_indicator_id_id', ['indicator_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('indicator_adjustments', schema=None) as batch_op:
        batch_op.drop_index('ix_indicator_adjustments_indicator_id_id')
    op.drop_table('indicator_adjustments')
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_indicators_recovered_within_amount'), type_='check')
        batch_op.drop_column('issued_on')
        batch_op.drop_column('approved_on')
        batch_op.drop_column('recovered')
