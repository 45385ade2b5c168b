"""warning_transfers; organisations of kind department; warnings transferred and transfer_closed;
the department's answer (outcome)

A confirmed matter outside finance's remit is handed on to the department that owns it with a
numbered 移交函 (Art. 11(三): 不属于职责范围内的，按照规定移交有关部门处理): one transfer per
warning, naming the receiver (a new organisation kind, ``department`` 有关部门), the fields of the
transfer and the letter. ``warnings.status`` widens to 16 characters (``transfer_closed``). The warning waits ``transferred`` for the receiver's answer (a response of
kind ``outcome``) and is closed ``transfer_closed`` by finance.

Revision ID: 0020_warning_transfers
Revises: 0019_user_passwords
Create Date: 2026-11-29 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020_warning_transfers'
down_revision = '0019_user_passwords'
branch_labels = None
depends_on = None

# (table, constraint, column, values before, values after)
CHECKS = (
    ('organisations', 'ck_organisations_kind', 'kind',
     ('finance', 'competent', 'unit', 'bank', 'oversight'),
     ('finance', 'competent', 'unit', 'bank', 'oversight', 'department')),
    ('warnings', 'ck_warnings_status', 'status',
     ('open', 'verifying', 'confirmed', 'dismissed'),
     ('open', 'verifying', 'confirmed', 'dismissed', 'transferred', 'transfer_closed')),
    ('warning_responses', 'ck_warning_responses_kind', 'kind',
     ('explanation', 'materials', 'findings'),
     ('explanation', 'materials', 'findings', 'outcome')),
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(position: int) -> None:
    for table, name, column, *values in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(name), type_='check')
            batch_op.create_check_constraint(batch_op.f(name), _in(column, values[position]))


def upgrade():
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=12), type_=sa.String(length=16),
                              existing_nullable=False)
    _checks(1)
    op.create_table('warning_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('receiver_id', sa.Integer(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_warning_transfers_created_by_id_users')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_warning_transfers_document_id_documents')),
    sa.ForeignKeyConstraint(['receiver_id'], ['organisations.id'], name=op.f('fk_warning_transfers_receiver_id_organisations')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_warning_transfers_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_transfers')),
    sa.UniqueConstraint('warning_id', name=op.f('uq_warning_transfers_warning_id'))
    )
    with op.batch_alter_table('warning_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warning_transfers_receiver_id'), ['receiver_id'], unique=False)


def downgrade():
    with op.batch_alter_table('warning_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warning_transfers_receiver_id'))
    op.drop_table('warning_transfers')
    _checks(0)
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16), type_=sa.String(length=12),
                              existing_nullable=False)
