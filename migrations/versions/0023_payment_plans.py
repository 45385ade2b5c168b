"""payment plans (用款计划, Art. 10(二)1, 10(三)15), and each indicator's running total per month

``payment_plans``: one row per unit, indicator and month; its status is the table
``workflow/machines/payment_plan.py``; ``approved_amount`` is the month's quota in force.

Screening now also keeps each indicator's total per month (``spending_totals`` rows keyed
``month:<indicator id>:<MM>``), which the rule ``over_payment_plan`` and the quota view read.
The payments stored before this migration are counted into those totals here, by the month of
``paid_at`` in the service's time zone (``FUNDWATCH_TIMEZONE``, default Asia/Shanghai), as
screening counts them: counted payments (accepted and held) with an indicator.

Revision ID: 0023_payment_plans
Revises: 0022_rule_sets_per_department
Create Date: 2026-11-29 17:00:00

"""
import datetime as dt
import os
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0023_payment_plans'
down_revision = '0022_rule_sets_per_department'
branch_labels = None
depends_on = None

BATCH = 10000

payments = sa.table('payments', sa.column('id', sa.Integer), sa.column('unit_id', sa.Integer),
                    sa.column('budget_year', sa.Integer), sa.column('indicator_id', sa.Integer),
                    sa.column('paid_at', sa.DateTime(timezone=True)), sa.column('amount', sa.BigInteger),
                    sa.column('counted', sa.Boolean))
totals = sa.table('spending_totals', sa.column('unit_id', sa.Integer), sa.column('year', sa.Integer),
                  sa.column('key', sa.String), sa.column('spent', sa.BigInteger),
                  sa.column('updated_at', sa.DateTime(timezone=True)))


def upgrade():
    op.create_table('payment_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('approved_amount', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('uneven', sa.Boolean(), nullable=False),
    sa.Column('return_reason', sa.String(length=500), nullable=True),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('filed', 'approved', 'returned')", name=op.f('ck_payment_plans_status')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_payment_plans_amount_not_negative')),
    sa.CheckConstraint('approved_amount >= 0', name=op.f('ck_payment_plans_approved_amount_not_negative')),
    sa.CheckConstraint('month BETWEEN 1 AND 12', name=op.f('ck_payment_plans_month')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_payment_plans_decided_by_id_users')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name=op.f('fk_payment_plans_filed_by_id_users')),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_payment_plans_indicator_id_indicators')),
    sa.ForeignKeyConstraint(['unit_id'], ['organisations.id'], name=op.f('fk_payment_plans_unit_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_plans')),
    sa.UniqueConstraint('indicator_id', 'month', name='uq_payment_plans_indicator_month')
    )
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.create_index('ix_payment_plans_unit_id_id', ['unit_id', 'id'], unique=False)
        batch_op.create_index('ix_payment_plans_unit_year_month', ['unit_id', 'year', 'month'], unique=False)
    backfill_month_totals(op.get_bind())


def backfill_month_totals(connection) -> int:
    """Count the stored payments into their indicator's total of their month; answers how many
    totals were written. Reads the payments a batch at a time by id, adds up in memory (a few
    rows a unit and indicator), and inserts the totals, none of which exists before."""
    zone = ZoneInfo(os.environ.get('FUNDWATCH_TIMEZONE') or 'Asia/Shanghai')
    spent: dict[tuple[int, int, str], int] = {}
    after = 0
    while True:
        rows = connection.execute(
            sa.select(payments.c.id, payments.c.unit_id, payments.c.budget_year, payments.c.indicator_id,
                      payments.c.paid_at, payments.c.amount)
            .where(payments.c.id > after, payments.c.counted.is_(True), payments.c.indicator_id.is_not(None))
            .order_by(payments.c.id).limit(BATCH)).all()
        for _, unit_id, year, indicator_id, paid_at, amount in rows:
            if paid_at.tzinfo is None:  # SQLite keeps UTC without its offset
                paid_at = paid_at.replace(tzinfo=dt.timezone.utc)
            key = (unit_id, year, f'month:{indicator_id}:{paid_at.astimezone(zone).month:02d}')
            spent[key] = spent.get(key, 0) + amount
        if len(rows) < BATCH:
            break
        after = rows[-1][0]
    now = dt.datetime.now(dt.timezone.utc)
    if connection.dialect.name == 'sqlite':
        now = now.replace(tzinfo=None)
    values = [{'unit_id': u, 'year': y, 'key': k, 'spent': fen, 'updated_at': now} for (u, y, k), fen in spent.items()]
    for start in range(0, len(values), BATCH):
        connection.execute(sa.insert(totals), values[start:start + BATCH])
    return len(values)


def downgrade():
    op.execute(sa.text("DELETE FROM spending_totals WHERE key LIKE 'month:%'"))
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_plans_unit_year_month')
        batch_op.drop_index('ix_payment_plans_unit_id_id')

    op.drop_table('payment_plans')
