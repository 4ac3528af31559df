"""Accounts get passwords: a token row may carry a password hash (one per person and node), and
failed password sign-ins are counted per user name to throttle guessing.

Existing tokens keep working as they are; a person has no password until an admin sets one.

Revision ID: auth_0004
Revises: auth_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "auth_0004"
down_revision = "auth_0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
    has_password = sa.text("password_hash IS NOT NULL")
    op.create_index("ux_api_token_password", "api_token", ["user", "node"], unique=True,
                    sqlite_where=has_password, postgresql_where=has_password)
    op.create_table(
        "sign_in_throttle",
        sa.Column("user", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade():
    op.drop_table("sign_in_throttle")
    op.drop_index("ux_api_token_password", "api_token")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("password_hash")
