"""regions: cities, counties and townships; villages and officials under them

Every village hangs under a top-level township region made from its ``township`` name.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 21:50:00

"""
import hashlib
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def township_code(name: str) -> str:
    """As ``app.regions.services.township_code`` makes it (no region exists yet)."""
    return "T-" + hashlib.sha1(name.encode()).hexdigest()[:8]


def upgrade():
    op.create_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['regions.id'], name=op.f('fk_regions_parent_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('code', name=op.f('uq_regions_code'))
    )
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regions_parent_id'), ['parent_id'], unique=False)

    with op.batch_alter_table('villages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))

    conn = op.get_bind()
    regions = sa.table(
        'regions',
        sa.column('id', sa.Integer),
        sa.column('name', sa.String),
        sa.column('code', sa.String),
        sa.column('level', sa.String),
        sa.column('parent_id', sa.Integer),
        sa.column('created_at', sa.DateTime),
    )
    villages = sa.table('villages', sa.column('township', sa.String), sa.column('region_id', sa.Integer))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    names = conn.execute(sa.select(villages.c.township).distinct().order_by(villages.c.township)).scalars().all()
    for name in names:
        conn.execute(regions.insert().values(name=name, code=township_code(name), level='township', created_at=now))
        region_id = conn.execute(sa.select(regions.c.id).where(regions.c.code == township_code(name))).scalar_one()
        conn.execute(villages.update().where(villages.c.township == name).values(region_id=region_id))

    with op.batch_alter_table('villages', schema=None) as batch_op:
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_villages_region_id'), ['region_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_villages_region_id_regions'), 'regions', ['region_id'], ['id'])

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_region_id'), ['region_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_region_id_regions'), 'regions', ['region_id'], ['id'])


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_region_id_regions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_region_id'))
        batch_op.drop_column('region_id')

    with op.batch_alter_table('villages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_villages_region_id_regions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_villages_region_id'))
        batch_op.drop_column('region_id')

    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regions_parent_id'))

    op.drop_table('regions')
