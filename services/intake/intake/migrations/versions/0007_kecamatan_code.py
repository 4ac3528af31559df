"""The kecamatan is a code from the province's reference list (``rehsos/data/kecamatan.csv``),
no longer free text. What was typed before is mapped to the code of the kecamatan of that name
in the person's (or the case's) regency: case, spaces and punctuation ignored, so "Batulicin"
finds "Batu Licin". Text that names none of them is kept in ``kecamatan_legacy``, the code left
NULL, so nothing is lost; the API shows it as the kecamatan's name until someone picks the code.

Revision ID: intake_0007
Revises: intake_0006
"""
import sqlalchemy as sa
from alembic import op

from rehsos import reference

revision = "intake_0007"
down_revision = "intake_0006"
branch_labels = None
depends_on = None

TABLES = ("person", "case")


def _code_of(regency: str, text: str | None) -> str | None:
    if text and text.strip() in reference.KECAMATAN and reference.KECAMATAN[text.strip()].regency == regency:
        return text.strip()  # already a code
    return reference.kecamatan_named(regency, text)


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("kecamatan_legacy", sa.String(100), nullable=True))
            batch.alter_column("kecamatan", existing_type=sa.String(100), nullable=True)
        rows = sa.table(table, sa.column("regency", sa.String), sa.column("kecamatan", sa.String),
                        sa.column("kecamatan_legacy", sa.String))
        conn = op.get_bind()
        # One statement per distinct text, not per row: a regency has few ways of writing its kecamatan.
        for regency, text in conn.execute(sa.select(rows.c.regency, rows.c.kecamatan).distinct()).all():
            code = _code_of(regency, text)
            conn.execute(rows.update().where(rows.c.regency == regency, rows.c.kecamatan == text)
                         .values(kecamatan=code, kecamatan_legacy=None if code else text))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("kecamatan", existing_type=sa.String(100), type_=sa.String(6), existing_nullable=True)


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("kecamatan", existing_type=sa.String(6), type_=sa.String(100), existing_nullable=True)
        rows = sa.table(table, sa.column("kecamatan", sa.String), sa.column("kecamatan_legacy", sa.String))
        conn = op.get_bind()
        for code in conn.execute(sa.select(rows.c.kecamatan).where(rows.c.kecamatan.is_not(None)).distinct()).scalars():
            conn.execute(rows.update().where(rows.c.kecamatan == code)
                         .values(kecamatan=reference.kecamatan_name(code) or code))
        conn.execute(rows.update().where(rows.c.kecamatan.is_(None)).values(kecamatan=rows.c.kecamatan_legacy))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("kecamatan", existing_type=sa.String(100), nullable=False)
            batch.drop_column("kecamatan_legacy")
