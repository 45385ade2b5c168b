"""warning files and step records: files given on a warning, records of interviews and on-site checks

warning_files holds the files the parties answer a warning with (Art. 11(二)2, 26(二), 27(三)) and
the attachments of a step's record; step_records the record an interview or an on-site check ends
with (Art. 11(二)3), one per step. Both refuse UPDATE and DELETE in the database too (a trigger
on PostgreSQL and on SQLite), as the journal does: they are the archived record. evidence gains
the warning file a row joined from (its bytes are the warning file's, not a copy), the origin the
case file shows, and whether it is confidential (an answer to a joint investigation).

Revision ID: 0018_warning_files
Revises: 0017_registers
Create Date: 2026-11-29 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_warning_files'
down_revision = '0017_registers'
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("step_records", "warning_files")


def _append_only_triggers():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY_TABLES:
        refusal = f"{table} is append-only"
        if postgresql:
            op.execute(f"""
                CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '{refusal}: % refused', TG_OP;
                END $$""")
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
        else:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{refusal}: {verb} refused'); END")


def _drop_append_only_triggers():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY_TABLES:
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        else:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def upgrade():
    op.create_table('step_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('interview', 'onsite')", name=op.f('ck_step_records_kind')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_step_records_org_id_organisations')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_step_records_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['step_id'], ['verification_steps.id'],
                            name=op.f('fk_step_records_step_id_verification_steps')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_step_records_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_records')),
    sa.UniqueConstraint('step_id', name=op.f('uq_step_records_step_id'))
    )
    with op.batch_alter_table('step_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_step_records_warning_id'), ['warning_id'], unique=False)

    op.create_table('warning_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('uploader_org_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('file_type', sa.String(length=8), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(response_id IS NULL) <> (record_id IS NULL)', name=op.f('ck_warning_files_one_owner')),
    sa.ForeignKeyConstraint(['record_id'], ['step_records.id'], name=op.f('fk_warning_files_record_id_step_records')),
    sa.ForeignKeyConstraint(['response_id'], ['warning_responses.id'],
                            name=op.f('fk_warning_files_response_id_warning_responses')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_warning_files_uploaded_by_users')),
    sa.ForeignKeyConstraint(['uploader_org_id'], ['organisations.id'],
                            name=op.f('fk_warning_files_uploader_org_id_organisations')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_warning_files_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_files')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_warning_files_stored_name'))
    )
    with op.batch_alter_table('warning_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warning_files_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_warning_files_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_warning_files_warning_id'), ['warning_id'], unique=False)
    _append_only_triggers()

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warning_file_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('origin', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('confidential', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_evidence_warning_file_id'), ['warning_file_id'])
        batch_op.create_foreign_key(batch_op.f('fk_evidence_warning_file_id_warning_files'), 'warning_files',
                                    ['warning_file_id'], ['id'])


def downgrade():
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_evidence_warning_file_id_warning_files'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_evidence_warning_file_id'), type_='unique')
        batch_op.drop_column('confidential')
        batch_op.drop_column('origin')
        batch_op.drop_column('warning_file_id')

    _drop_append_only_triggers()
    with op.batch_alter_table('warning_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warning_files_warning_id'))
        batch_op.drop_index(batch_op.f('ix_warning_files_response_id'))
        batch_op.drop_index(batch_op.f('ix_warning_files_record_id'))
    op.drop_table('warning_files')

    with op.batch_alter_table('step_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_step_records_warning_id'))
    op.drop_table('step_records')
