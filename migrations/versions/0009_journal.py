"""journal: the append-only, hash-chained record of every action outside the case workflow

journal_entries refuses UPDATE and DELETE in the database too (a trigger on PostgreSQL and
on SQLite), as case_events does since 0002: the journal is evidence, only ever appended.
journal_heads holds each stream's last seq and hash; its triggers let a head only advance
by one entry and refuse its deletion, so that a deleted last entry is detected.

Revision ID: 0009_journal
Revises: 0008_drop_cases_deadline_index
Create Date: 2026-11-24 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_journal'
down_revision = '0008_drop_cases_deadline_index'
branch_labels = None
depends_on = None


APPEND_ONLY = "journal_entries is append-only"


def _append_only_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION journal_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY}: % refused', TG_OP;
            END $$""")
        op.execute("CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries "
                   "FOR EACH ROW EXECUTE FUNCTION journal_entries_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER journal_entries_no_{verb.lower()} BEFORE {verb} ON journal_entries "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: {verb} refused'); END")


def _drop_append_only_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_entries_append_only ON journal_entries")
        op.execute("DROP FUNCTION IF EXISTS journal_entries_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS journal_entries_no_{verb}")


HEAD_FORWARD_ONLY = "journal_heads only advance one entry at a time"


def _head_triggers():
    """A head may only move to the next entry of its stream, and never be deleted: to
    hide a deleted last entry, one would have to lift these triggers too."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION journal_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR NEW.stream <> OLD.stream OR NEW.seq <> OLD.seq + 1 THEN
                    RAISE EXCEPTION '{HEAD_FORWARD_ONLY}: % refused', TG_OP;
                END IF;
                RETURN NEW;
            END $$""")
        op.execute("CREATE TRIGGER journal_heads_forward_only BEFORE UPDATE OR DELETE ON journal_heads "
                   "FOR EACH ROW EXECUTE FUNCTION journal_heads_forward_only()")
    else:
        op.execute(f"CREATE TRIGGER journal_heads_no_delete BEFORE DELETE ON journal_heads "
                   f"BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD_ONLY}: DELETE refused'); END")
        op.execute(f"CREATE TRIGGER journal_heads_forward_only BEFORE UPDATE ON journal_heads "
                   f"WHEN NEW.stream <> OLD.stream OR NEW.seq <> OLD.seq + 1 "
                   f"BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD_ONLY}: UPDATE refused'); END")


def _drop_head_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_heads_forward_only ON journal_heads")
        op.execute("DROP FUNCTION IF EXISTS journal_heads_forward_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS journal_heads_no_delete")
        op.execute("DROP TRIGGER IF EXISTS journal_heads_forward_only")


def upgrade():
    op.create_table('journal_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('party_org_id', sa.Integer(), nullable=True),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_journal_entries_seq_positive')),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_journal_entries_actor_user_id_users')),
    sa.ForeignKeyConstraint(['party_org_id'], ['organisations.id'],
                            name=op.f('fk_journal_entries_party_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('stream', 'seq', name='uq_journal_entries_stream_seq')
    )
    _append_only_triggers()
    op.create_table('journal_heads',
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('stream', name=op.f('pk_journal_heads'))
    )
    _head_triggers()


def downgrade():
    _drop_head_triggers()
    op.drop_table('journal_heads')
    _drop_append_only_triggers()
    op.drop_table('journal_entries')
