"""results use: circulars of common problems and their self-check answers (Art. 11(四)); work
reports and major problems reported up the levels (Art. 11(五))

circulars (with the figures and typical cases chosen, the numbered document, the due date),
circular_answers (one per recipient, pending until answered), circular_files (the files of an
answer), circular_effects (the scheduler's reminders and overdue reports, unique per circular,
organisation and kind: each once across schedulers); work_reports (one per finance department
and period, with the figures of the period), major_problems and major_problem_files.

Revision ID: 0025_results_use
Revises: 0024_indicator_execution
Create Date: 2026-11-29 17:58:42.213721

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0025_results_use'
down_revision = '0024_indicator_execution'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('major_problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('upper_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('unit_codes', sa.JSON(), nullable=False),
    sa.Column('reported_by', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_major_problems_org_id_organisations')),
    sa.ForeignKeyConstraint(['reported_by'], ['users.id'], name=op.f('fk_major_problems_reported_by_users')),
    sa.ForeignKeyConstraint(['upper_id'], ['organisations.id'], name=op.f('fk_major_problems_upper_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_major_problems'))
    )
    with op.batch_alter_table('major_problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_major_problems_upper_id'), ['upper_id'], unique=False)

    op.create_table('work_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('upper_id', sa.Integer(), nullable=False),
    sa.Column('period_first', sa.Date(), nullable=False),
    sa.Column('period_last', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('narrative', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_work_reports_created_by_users')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_work_reports_org_id_organisations')),
    sa.ForeignKeyConstraint(['submitted_by'], ['users.id'], name=op.f('fk_work_reports_submitted_by_users')),
    sa.ForeignKeyConstraint(['upper_id'], ['organisations.id'], name=op.f('fk_work_reports_upper_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_reports')),
    sa.UniqueConstraint('org_id', 'period_first', 'period_last', name='uq_work_reports_period')
    )
    with op.batch_alter_table('work_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_reports_upper_id'), ['upper_id'], unique=False)

    op.create_table('major_problem_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('file_type', sa.String(length=8), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['problem_id'], ['major_problems.id'], name=op.f('fk_major_problem_files_problem_id_major_problems')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_major_problem_files_uploaded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_major_problem_files')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_major_problem_files_stored_name'))
    )
    with op.batch_alter_table('major_problem_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_major_problem_files_problem_id'), ['problem_id'], unique=False)

    op.create_table('circulars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('period_first', sa.Date(), nullable=False),
    sa.Column('period_last', sa.Date(), nullable=False),
    sa.Column('group_by', sa.String(length=16), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('case_ids', sa.JSON(), nullable=False),
    sa.Column('anonymised', sa.Boolean(), nullable=False),
    sa.Column('include_units', sa.Boolean(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_circulars_created_by_users')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_circulars_document_id_documents')),
    sa.ForeignKeyConstraint(['issuer_id'], ['organisations.id'], name=op.f('fk_circulars_issuer_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_circulars')),
    sa.UniqueConstraint('document_id', name=op.f('uq_circulars_document_id'))
    )
    with op.batch_alter_table('circulars', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_circulars_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_circulars_issuer_id'), ['issuer_id'], unique=False)

    op.create_table('circular_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('circular_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_circular_answers_answered_by_users')),
    sa.ForeignKeyConstraint(['circular_id'], ['circulars.id'], name=op.f('fk_circular_answers_circular_id_circulars')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_circular_answers_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_circular_answers')),
    sa.UniqueConstraint('circular_id', 'org_id', name='uq_circular_answers_recipient')
    )
    with op.batch_alter_table('circular_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_circular_answers_org_id'), ['org_id'], unique=False)

    op.create_table('circular_effects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('circular_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['circular_id'], ['circulars.id'], name=op.f('fk_circular_effects_circular_id_circulars')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_circular_effects_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_circular_effects')),
    sa.UniqueConstraint('circular_id', 'org_id', 'kind', name='uq_circular_effects_key')
    )
    op.create_table('circular_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('uploader_org_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('file_type', sa.String(length=8), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['circular_answers.id'], name=op.f('fk_circular_files_answer_id_circular_answers')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_circular_files_uploaded_by_users')),
    sa.ForeignKeyConstraint(['uploader_org_id'], ['organisations.id'], name=op.f('fk_circular_files_uploader_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_circular_files')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_circular_files_stored_name'))
    )
    with op.batch_alter_table('circular_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_circular_files_answer_id'), ['answer_id'], unique=False)



def downgrade():
    with op.batch_alter_table('circular_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_circular_files_answer_id'))

    op.drop_table('circular_files')
    op.drop_table('circular_effects')
    with op.batch_alter_table('circular_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_circular_answers_org_id'))

    op.drop_table('circular_answers')
    with op.batch_alter_table('circulars', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_circulars_issuer_id'))
        batch_op.drop_index(batch_op.f('ix_circulars_due_at'))

    op.drop_table('circulars')
    with op.batch_alter_table('major_problem_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_major_problem_files_problem_id'))

    op.drop_table('major_problem_files')
    with op.batch_alter_table('work_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_reports_upper_id'))

    op.drop_table('work_reports')
    with op.batch_alter_table('major_problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_major_problems_upper_id'))

    op.drop_table('major_problems')
