"""audit_log.team (team-scoped audit reads) and budgets.webhook_url encrypted at rest

Revision ID: i14_0003_security
Revises: 0002
Create Date: 2026-12-04 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'i14_0003_security'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team', sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_log_team'), ['team'], unique=False)
    # Webhook URLs stored in plaintext before this revision: encrypt them (the key is created only if one exists).
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, webhook_url FROM budgets WHERE webhook_url IS NOT NULL")).all()
    if rows:
        from costplane.store._secrets import PREFIX, encrypt

        for budget_id, url in rows:
            if not url.startswith(PREFIX):
                conn.execute(sa.text("UPDATE budgets SET webhook_url = :u WHERE id = :i"),
                             {"u": encrypt(url), "i": budget_id})


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_team'))
        batch_op.drop_column('team')
