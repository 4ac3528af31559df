"""A person's name key holds the longest name it can come from: folding spells "M." out as
"muhammad", so a 200-character name can give a key of 899 characters.

Revision ID: intake_0006
Revises: intake_0005
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0006"
down_revision = "intake_0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("person") as batch:
        batch.alter_column("name_key", type_=sa.String(900), existing_type=sa.String(200), existing_nullable=False)


def downgrade():
    with op.batch_alter_table("person") as batch:
        batch.alter_column("name_key", type_=sa.String(200), existing_type=sa.String(900), existing_nullable=False)
