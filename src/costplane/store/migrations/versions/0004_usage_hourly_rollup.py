"""usage_hourly: hourly roll-up of usage_samples per series, backfilled from the stored samples

Revision ID: 0004_usage_hourly
Revises: i14_0003_security
Create Date: 2026-12-04 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_usage_hourly'
down_revision = 'i14_0003_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'usage_hourly',
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('metric', sa.String(length=128), nullable=False),
        sa.Column('series_key', sa.String(length=512), nullable=False),
        sa.Column('hour_s', sa.Float(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('sum_value', sa.Float(), nullable=False),
        sa.Column('min_ts_s', sa.Float(), nullable=False),
        sa.Column('max_ts_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('source', 'metric', 'series_key', 'hour_s'),
    )
    op.create_index('ix_usage_hourly_metric_hour', 'usage_hourly', ['metric', 'hour_s'], unique=False)
    # Samples stored before this revision: their hours, exactly as Store.add_usage_samples maintains them.
    from costplane.store._rollup import rebuild_sql

    op.execute(rebuild_sql(op.get_bind().dialect.name))


def downgrade() -> None:
    op.drop_index('ix_usage_hourly_metric_hour', table_name='usage_hourly')
    op.drop_table('usage_hourly')
