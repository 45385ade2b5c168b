"""analysis reports: each finance department's monthly, quarterly and annual report (Art. 11(四)(五))

One row per department, kind and period (unique: the scheduler issues each once), pointing at the
numbered document (预算执行动态监控分析报告) and keeping the tables it was drawn from (the XLSX annex).

Revision ID: 0026_analysis_reports
Revises: 0025_results_use
Create Date: 2026-11-29 18:20:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0026_analysis_reports'
down_revision = '0025_results_use'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('analysis_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finance_id', sa.Integer(), nullable=False),
    sa.Column('period_kind', sa.String(length=10), nullable=False),
    sa.Column('first', sa.Date(), nullable=False),
    sa.Column('last', sa.Date(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('tables', sa.JSON(), nullable=False),
    sa.Column('generated_by', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.ForeignKeyConstraint(['finance_id'], ['organisations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('finance_id', 'period_kind', 'first', name='uq_analysis_reports_period')
    )


def downgrade():
    op.drop_table('analysis_reports')
