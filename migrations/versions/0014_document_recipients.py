"""documents: the parties a notice reaches besides its addressee, and the signed copy returned

``document_recipients`` holds the competent department a notice is copied to (抄送) and the
parties a 通报 is circulated to (Art. 21(五)); the copies of notices issued before are filled
in from the kinds that are copied (focus letters and written rectification orders). The
signed and stamped copy an addressee may return with its acknowledgement is kept like case
evidence: its name as given, the server-chosen stored name, type, size and SHA-256.

Revision ID: 0014_document_recipients
Revises: 0013_outbox_claim_index
Create Date: 2026-11-29 14:20:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014_document_recipients'
down_revision = '0013_outbox_claim_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('document_recipients',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'],
                            name=op.f('fk_document_recipients_document_id_documents')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'],
                            name=op.f('fk_document_recipients_org_id_organisations')),
    sa.PrimaryKeyConstraint('document_id', 'org_id', name=op.f('pk_document_recipients'))
    )
    with op.batch_alter_table('document_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_recipients_org_id'), ['org_id'], unique=False)
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_filename', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('signed_stored_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('signed_content_type', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('signed_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('signed_sha256', sa.String(length=64), nullable=True))
    # The kinds with ``copy_competent`` in workflow.documents.KINDS when this revision was written.
    op.execute(sa.text(
        "INSERT INTO document_recipients (document_id, org_id, role) "
        "SELECT d.id, o.parent_id, 'copy' FROM documents d "
        "JOIN organisations o ON o.id = d.addressee_id JOIN organisations p ON p.id = o.parent_id "
        "WHERE p.kind = 'competent' AND d.kind IN ('focus_letter', 'rectification_order')"))


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('signed_sha256')
        batch_op.drop_column('signed_size')
        batch_op.drop_column('signed_content_type')
        batch_op.drop_column('signed_stored_name')
        batch_op.drop_column('signed_filename')
    with op.batch_alter_table('document_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_recipients_org_id'))
    op.drop_table('document_recipients')
