"""rule sets per finance department, drafts and four-eyes publishing (Art. 5-7, 12; issue 12)

``rule_sets`` rows belong to a finance department (``department_id``), numbered per department
(``uq_rule_sets_department_id_version`` replaces the global ``uq_rule_sets_version``), with the
parameters opened to local change (``open``), the approving officer and the time from which the
version is in force (``effective_from``). Existing versions were the province's: they go to the
finance department at the top of the hierarchy, in force from their publication (the seeded
defaults from the start). ``rule_set_drafts`` holds proposed changes until a second officer
publishes them. ``warnings.rule_set_department_id`` records whose set raised a warning.

Revision ID: 0022_rule_sets_per_department
Revises: 0021_step_requests
Create Date: 2026-11-29 17:00:00

"""
import datetime as dt

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022_rule_sets_per_department'
down_revision = '0021_step_requests'
branch_labels = None
depends_on = None

START = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def upgrade():
    op.create_table('rule_set_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_rule_set_drafts_author_id_users')),
    sa.ForeignKeyConstraint(['department_id'], ['organisations.id'],
                            name=op.f('fk_rule_set_drafts_department_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_set_drafts'))
    )
    with op.batch_alter_table('rule_set_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_set_drafts_department_id'), ['department_id'], unique=False)

    with op.batch_alter_table('rule_sets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('open', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('effective_from', sa.DateTime(timezone=True), nullable=True))

    # The versions so far were the province's: the finance department with none above it.
    connection = op.get_bind()
    top = connection.execute(sa.text(
        "SELECT id FROM organisations WHERE kind = 'finance' AND parent_id IS NULL ORDER BY id LIMIT 1")).scalar()
    if top is None:
        # no organisation yet: only defaults seeded on first use can be there, seeded again on next use
        connection.execute(sa.text("DELETE FROM rule_sets"))
    else:
        connection.execute(sa.text("UPDATE rule_sets SET department_id = :top").bindparams(top=top))
    connection.execute(sa.text("UPDATE rule_sets SET open = '[]', effective_from = created_at"))
    # the first version (the defaults) is in force from the start, as a freshly seeded one is
    connection.execute(sa.text("UPDATE rule_sets SET effective_from = :start WHERE version = 1").bindparams(
        sa.bindparam("start", START, type_=sa.DateTime(timezone=True))))

    with op.batch_alter_table('rule_sets', schema=None) as batch_op:
        batch_op.alter_column('department_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('open', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('effective_from', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_constraint('uq_rule_sets_version', type_='unique')
        batch_op.create_unique_constraint('uq_rule_sets_department_id_version', ['department_id', 'version'])
        batch_op.create_foreign_key(batch_op.f('fk_rule_sets_department_id_organisations'), 'organisations',
                                    ['department_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_rule_sets_approved_by_id_users'), 'users',
                                    ['approved_by_id'], ['id'])

    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule_set_department_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_warnings_rule_set_department_id_organisations'),
                                    'organisations', ['rule_set_department_id'], ['id'])
    # Warnings raised so far were raised under the province's set.
    if top is not None:
        connection.execute(sa.text("UPDATE warnings SET rule_set_department_id = :top "
                                   "WHERE rule_set_version IS NOT NULL").bindparams(top=top))


def downgrade():
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_warnings_rule_set_department_id_organisations'), type_='foreignkey')
        batch_op.drop_column('rule_set_department_id')
    # Only the top department's versions fit the single global numbering.
    op.execute(sa.text("DELETE FROM rule_sets WHERE department_id <> (SELECT MIN(id) FROM organisations "
                       "WHERE kind = 'finance' AND parent_id IS NULL)"))
    with op.batch_alter_table('rule_sets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rule_sets_approved_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_rule_sets_department_id_organisations'), type_='foreignkey')
        batch_op.drop_constraint('uq_rule_sets_department_id_version', type_='unique')
        batch_op.create_unique_constraint('uq_rule_sets_version', ['version'])
        batch_op.drop_column('effective_from')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('open')
        batch_op.drop_column('department_id')
    with op.batch_alter_table('rule_set_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_set_drafts_department_id'))
    op.drop_table('rule_set_drafts')
