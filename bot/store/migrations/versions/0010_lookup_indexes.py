"""lookup indexes: one index per records table holds all the lookup reads

Each child table's unique natural key becomes its lookup index, and on PostgreSQL the index
INCLUDEs the other columns the records lookup reads, so the lookup is index-only scans. The
vouchers' plain index on mcp_id gives way to its covering one. No table gains an index: the import
maintains as many as before.

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (old unique constraint, natural key, columns the PostgreSQL index includes)
_UNIQUE = {
    'candidate_emails': ('uq_candidate_emails_mcp_id_email', ['mcp_id', 'email'], ['id']),
    'certifications': (
        'uq_certifications_mcp_id_certification', ['mcp_id', 'certification'], ['id', 'granted_on']
    ),
    'exam_attempts': (
        'uq_exam_attempts_mcp_id_exam_provider_taken_on',
        ['mcp_id', 'exam', 'provider', 'taken_on'],
        ['id', 'beta', 'result'],
    ),
    'invitations': (
        'uq_invitations_mcp_id_campaign_exam',
        ['mcp_id', 'campaign', 'exam'],
        ['id', 'sent_at', 'promo_code', 'status'],
    ),
    'registrations': (
        'uq_registrations_mcp_id_exam_provider_created_at',
        ['mcp_id', 'exam', 'provider', 'created_at'],
        ['id', 'created_by', 'scheduled_for'],
    ),
}
_VOUCHERS_INCLUDE = ['id', 'code', 'issued_at', 'for_exam', 'scope', 'redeemed_at']


def upgrade() -> None:
    for table, (constraint, key, include) in _UNIQUE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(constraint, type_='unique')
            batch_op.create_index(
                f'ix_{table}_lookup', key, unique=True, postgresql_include=include
            )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index('ix_vouchers_mcp_id')
        batch_op.create_index(
            'ix_vouchers_lookup', ['mcp_id'], unique=False, postgresql_include=_VOUCHERS_INCLUDE
        )


def downgrade() -> None:
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index('ix_vouchers_lookup')
        batch_op.create_index('ix_vouchers_mcp_id', ['mcp_id'], unique=False)
    for table, (constraint, key, _) in _UNIQUE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_lookup')
            batch_op.create_unique_constraint(constraint, key)
