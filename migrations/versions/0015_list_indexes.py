"""lists: indexes that serve a list's scope and its order together (issue 15 item 1)

Every list is keyset-paginated by id (``WHERE scope AND id > :cursor ORDER BY id LIMIT n``).
An index on the scope column alone finds the rows in scope but not in id order on PostgreSQL
(a B-tree on one column keeps equal keys in heap order), so the planner either sorted every
row in scope to return 51 of them, or walked the whole primary key filtering. Each index below
is the old single-column one with the id appended: an equality on its first column reads the
page in id order and stops after the page (SQLite's single-column index already ended with the
rowid; the composite one is the same there, and one schema serves both databases). The old
indexes are dropped: the composite ones answer every lookup they answered.

Revision ID: 0015_list_indexes
Revises: 0014_document_recipients
Create Date: 2026-11-29 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015_list_indexes'
down_revision = '0014_document_recipients'
branch_labels = None
depends_on = None

# (table, old single-column index, new index, its columns)
REPLACED = (
    ('warnings', 'ix_warnings_unit_id', 'ix_warnings_unit_id_id', ['unit_id', 'id']),
    ('warnings', 'ix_warnings_status', 'ix_warnings_status_id', ['status', 'id']),
    ('payments', 'ix_payments_unit_id', 'ix_payments_unit_id_id', ['unit_id', 'id']),
    ('payments', 'ix_payments_bank_id', 'ix_payments_bank_id_id', ['bank_id', 'id']),
    ('payments', 'ix_payments_status', 'ix_payments_status_id', ['status', 'id']),
    ('cases', 'ix_cases_subject_id', 'ix_cases_subject_id_id', ['subject_id', 'id']),
    ('documents', 'ix_documents_case_id', 'ix_documents_case_id_id', ['case_id', 'id']),
)


def upgrade():
    for table, old, new, columns in REPLACED:
        op.create_index(new, table, columns, unique=False)
        op.drop_index(old, table_name=table)


def downgrade():
    for table, old, new, columns in reversed(REPLACED):
        op.create_index(old, table, columns[:1], unique=False)
        op.drop_index(new, table_name=table)
