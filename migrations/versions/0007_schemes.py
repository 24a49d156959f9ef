"""schemes: each village's settings move to its household scheme; households and rules
belong to a scheme

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 22:00:00

"""
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

STANDARD_CATEGORIES = ["遵纪守法", "移风易俗", "勤劳致富", "清洁卫生", "家庭文明", "邻里和睦", "遵守公德", "志愿服务"]
SETTINGS = ("base_points", "redeem_floor", "yuan_per_point", "approval_required", "notice_days", "annual_reset")


def _setting_columns():
    return [
        sa.Column('base_points', sa.Integer(), nullable=False),
        sa.Column('redeem_floor', sa.Integer(), nullable=False),
        sa.Column('yuan_per_point', sa.Numeric(precision=8, scale=2, asdecimal=False), nullable=False),
        sa.Column('approval_required', sa.Boolean(), nullable=False),
        sa.Column('notice_days', sa.Integer(), nullable=False),
        sa.Column('annual_reset', sa.Boolean(), nullable=False),
    ]


_HOUSEHOLD_SCHEME = (
    "(SELECT schemes.id FROM schemes WHERE schemes.village_id = {table}.village_id"
    " AND schemes.account_kind = 'household')"
)


def upgrade():
    op.create_table('schemes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('account_kind', sa.String(length=10), nullable=False),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    *_setting_columns(),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_schemes_region_id_regions')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_schemes_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schemes'))
    )
    with op.batch_alter_table('schemes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schemes_region_id'), ['region_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_schemes_village_id'), ['village_id'], unique=False)

    # One household scheme per village, carrying the village's settings and, after the
    # standard eight, any other category its rules already use.
    conn = op.get_bind()
    schemes = sa.table(
        'schemes',
        *(sa.column(c) for c in ('name', 'village_id', 'account_kind', 'cadence', 'created_at', *SETTINGS)),
        sa.column('categories', sa.JSON),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    villages = conn.execute(sa.text(f"SELECT id, name, {', '.join(SETTINGS)} FROM villages ORDER BY id")).all()
    used = {}
    for village_id, category in conn.execute(sa.text("SELECT DISTINCT village_id, category FROM rules")):
        used.setdefault(village_id, set()).add(category)
    for row in villages:
        extra = sorted(used.get(row.id, set()) - set(STANDARD_CATEGORIES))
        conn.execute(
            schemes.insert().values(
                name=f"{row.name}积分方案"[:100],
                village_id=row.id,
                account_kind='household',
                cadence='quarter',
                categories=STANDARD_CATEGORIES + extra,
                created_at=now,
                **{s: getattr(row, s) for s in SETTINGS},
            )
        )

    for table in ('households', 'rules'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('scheme_id', sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET scheme_id = {_HOUSEHOLD_SCHEME.format(table=table)}")

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_households_scheme_id'), ['scheme_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_households_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id'])

    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('uq_rules_village_id_code', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_rules_scheme_id_code'), ['scheme_id', 'code'])
        batch_op.create_index(batch_op.f('ix_rules_scheme_id'), ['scheme_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_rules_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id'])

    with op.batch_alter_table('villages', schema=None) as batch_op:
        for column in SETTINGS:
            batch_op.drop_column(column)


def downgrade():
    with op.batch_alter_table('villages', schema=None) as batch_op:
        for column in _setting_columns():
            column.nullable = True
            batch_op.add_column(column)
    for column in SETTINGS:
        op.execute(
            f"UPDATE villages SET {column} = (SELECT schemes.{column} FROM schemes"
            " WHERE schemes.village_id = villages.id AND schemes.account_kind = 'household')"
        )
    with op.batch_alter_table('villages', schema=None) as batch_op:
        for column in _setting_columns():
            batch_op.alter_column(column.name, existing_type=column.type, nullable=False)

    # Rules of any other scheme have no place in the older schema.
    op.execute(
        "DELETE FROM rules WHERE scheme_id NOT IN (SELECT id FROM schemes WHERE account_kind = 'household')"
    )
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rules_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rules_scheme_id'))
        batch_op.drop_constraint(batch_op.f('uq_rules_scheme_id_code'), type_='unique')
        batch_op.create_unique_constraint('uq_rules_village_id_code', ['village_id', 'code'])
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_households_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_households_scheme_id'))
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('schemes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schemes_village_id'))
        batch_op.drop_index(batch_op.f('ix_schemes_region_id'))

    op.drop_table('schemes')
