"""users.password_hash: the console's sign-in

A user may sign in to the console with e-mail and password (issue 14); the column holds a
scrypt hash in werkzeug's format, never the password. Empty for every existing user: they
keep their API tokens and get a password with ``flask users set-password``.

Revision ID: 0019_user_passwords
Revises: 0018_warning_files
Create Date: 2026-11-29 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_user_passwords'
down_revision = '0018_warning_files'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_hash')
