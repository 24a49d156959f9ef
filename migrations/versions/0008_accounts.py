"""accounts: households become the accounts of every scheme (person and village accounts
beside households); entries, totals, periods, objections, awards and shops carry their
scheme; awards may share a fund

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Before this revision every account is a household of its village's household scheme.
_HOUSEHOLD_SCHEME = (
    "(SELECT schemes.id FROM schemes WHERE schemes.village_id = {table}.village_id"
    " AND schemes.account_kind = 'household')"
)
_OF_ACCOUNT = "(SELECT households.scheme_id FROM households WHERE households.id = {table}.household_id)"


def _add_scheme(table: str, source: str, index: str | None = None) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column('scheme_id', sa.Integer(), nullable=True))
    op.execute(f"UPDATE {table} SET scheme_id = {source.format(table=table)}")


def upgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='household', nullable=False))
        batch_op.add_column(sa.Column('linked_household_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('home_village_id', sa.Integer(), nullable=True))
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('uq_households_village_id_number', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_households_scheme_id_number'), ['scheme_id', 'number'])
        batch_op.create_index(batch_op.f('ix_households_linked_household_id'), ['linked_household_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_households_linked_household_id_households'), 'households', ['linked_household_id'], ['id']
        )
        batch_op.create_index(batch_op.f('ix_households_home_village_id'), ['home_village_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_households_home_village_id_villages'), 'villages', ['home_village_id'], ['id']
        )
    op.execute("UPDATE households SET home_village_id = village_id")

    _add_scheme('entries', _OF_ACCOUNT)
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index('ix_entries_scheme_status', ['scheme_id', 'status', 'created_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_entries_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id'])

    _add_scheme('period_totals', _OF_ACCOUNT)
    with op.batch_alter_table('period_totals', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index('ix_period_totals_scheme_rank', ['scheme_id', 'period', 'points'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_period_totals_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id']
        )

    _add_scheme('periods', _HOUSEHOLD_SCHEME)
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('uq_periods_village_id_period', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_periods_scheme_id_period'), ['scheme_id', 'period'])
        batch_op.create_index(batch_op.f('ix_periods_scheme_id'), ['scheme_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_periods_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id'])

    _add_scheme('objections', _HOUSEHOLD_SCHEME)
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index('ix_objections_scheme_status', ['scheme_id', 'status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_objections_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id'])

    _add_scheme('awards', _HOUSEHOLD_SCHEME)
    with op.batch_alter_table('awards', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('fund_yuan', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('allocation', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('amount_yuan', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.drop_constraint('uq_awards_village_id_period_title_household_id', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_awards_scheme_id_period_title_household_id'), ['scheme_id', 'period', 'title', 'household_id']
        )
        batch_op.create_index(batch_op.f('ix_awards_scheme_id'), ['scheme_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_awards_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id'])

    _add_scheme('shops', _HOUSEHOLD_SCHEME)
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.alter_column('scheme_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_shops_scheme_id'), ['scheme_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_shops_scheme_id_schemes'), 'schemes', ['scheme_id'], ['id'])


def downgrade():
    # What only this revision can hold (accounts of person and village schemes, other
    # schemes' periods, awards and shops) has no place in the older schema: refuse rather
    # than drop ledger rows.
    conn = op.get_bind()
    held = conn.execute(sa.text(
        "SELECT (SELECT count(*) FROM households WHERE kind <> 'household')"
        " + (SELECT count(*) FROM shops WHERE scheme_id NOT IN"
        " (SELECT id FROM schemes WHERE account_kind = 'household'))"
        " + (SELECT count(*) FROM periods WHERE scheme_id NOT IN"
        " (SELECT id FROM schemes WHERE account_kind = 'household'))"
    )).scalar()
    if held:
        raise RuntimeError("accounts of person or village schemes exist: restore a backup instead of downgrading")

    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_shops_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_shops_scheme_id'))
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('awards', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_awards_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_awards_scheme_id'))
        batch_op.drop_constraint(batch_op.f('uq_awards_scheme_id_period_title_household_id'), type_='unique')
        batch_op.create_unique_constraint(
            'uq_awards_village_id_period_title_household_id', ['village_id', 'period', 'title', 'household_id']
        )
        batch_op.drop_column('amount_yuan')
        batch_op.drop_column('allocation')
        batch_op.drop_column('fund_yuan')
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_objections_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index('ix_objections_scheme_status')
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_periods_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_periods_scheme_id'))
        batch_op.drop_constraint(batch_op.f('uq_periods_scheme_id_period'), type_='unique')
        batch_op.create_unique_constraint('uq_periods_village_id_period', ['village_id', 'period'])
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('period_totals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_period_totals_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index('ix_period_totals_scheme_rank')
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_entries_scheme_id_schemes'), type_='foreignkey')
        batch_op.drop_index('ix_entries_scheme_status')
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('scheme_id')

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_households_home_village_id_villages'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_households_home_village_id'))
        batch_op.drop_column('home_village_id')
        batch_op.drop_constraint(batch_op.f('fk_households_linked_household_id_households'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_households_linked_household_id'))
        batch_op.drop_constraint(batch_op.f('uq_households_scheme_id_number'), type_='unique')
        batch_op.create_unique_constraint('uq_households_village_id_number', ['village_id', 'number'])
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('linked_household_id')
        batch_op.drop_column('kind')
