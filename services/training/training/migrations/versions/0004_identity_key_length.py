"""A participant's identity key holds the longest name it can come from: folding spells a
character such as "㎯" out as "rad s", so a 200-character name can give 999 characters, and the
key adds ":" and the regency.

Revision ID: training_0004
Revises: training_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "training_0004"
down_revision = "training_0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("participant") as batch:
        batch.alter_column("identity_key", type_=sa.String(1005), existing_type=sa.String(220),
                           existing_nullable=False)


def downgrade():
    with op.batch_alter_table("participant") as batch:
        batch.alter_column("identity_key", type_=sa.String(220), existing_type=sa.String(1005),
                           existing_nullable=False)
