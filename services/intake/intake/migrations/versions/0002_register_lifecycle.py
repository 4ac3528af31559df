"""The regency's register: persons without identity, categories, disabilities, guardian,
consent; the case lifecycle (history, assessment, plan, services, closure, referral).

Revision ID: intake_0002
Revises: intake_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("registration_no", sa.String(32), nullable=True))
        batch.add_column(sa.Column("name_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("birth_year_estimated", sa.Integer, nullable=True))
        batch.add_column(sa.Column("desa", sa.String(100), nullable=True))
        batch.add_column(sa.Column("address", sa.String(300), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(20), nullable=True))
        batch.add_column(sa.Column("guardian_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("guardian_relationship", sa.String(50), nullable=True))
        batch.add_column(sa.Column("guardian_phone", sa.String(20), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.String(36), nullable=True))
        batch.add_column(sa.Column("updated_at", TS, nullable=True))
        batch.alter_column("birth_date", existing_type=sa.Date, nullable=True)
    # Persons registered before this revision get a registration number from their id.
    op.execute("UPDATE person SET registration_no = 'P-' || substr(id, 1, 8), name_key = lower(name)")
    with op.batch_alter_table("person") as batch:
        batch.alter_column("registration_no", existing_type=sa.String(32), nullable=False)
        batch.alter_column("name_key", existing_type=sa.String(200), nullable=False)
        batch.create_unique_constraint("uq_person_registration_no", ["registration_no"])
        batch.create_index("ix_person_name_key", ["name_key"])
        batch.create_index("ix_person_kecamatan", ["kecamatan"])

    op.create_table(
        "person_category",
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("reference_version", sa.Integer, nullable=False),
    )
    op.execute("INSERT INTO person_category (person_id, category, reference_version) "
               "SELECT DISTINCT person_id, category, 1 FROM \"case\"")
    op.create_table(
        "person_disability",
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), primary_key=True),
        sa.Column("disability", sa.String(32), primary_key=True),
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), nullable=False, index=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("legal_basis", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("given_by", sa.String(16), nullable=False),
        sa.Column("recorded_on", sa.Date, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
    )

    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("kecamatan", sa.String(100), nullable=True))
        batch.add_column(sa.Column("worker", sa.String(200), nullable=True))
        batch.add_column(sa.Column("closure_reason", sa.String(500), nullable=True))
        batch.add_column(sa.Column("closure_outcome", sa.String(16), nullable=True))
        batch.add_column(sa.Column("closure_requested_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("closed_at", TS, nullable=True))
        batch.add_column(sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"))
        batch.alter_column("status", existing_type=sa.String(16), type_=sa.String(24))
    op.execute('UPDATE "case" SET kecamatan = (SELECT kecamatan FROM person WHERE person.id = "case".person_id)')
    with op.batch_alter_table("case") as batch:
        batch.alter_column("kecamatan", existing_type=sa.String(100), nullable=False)
        batch.create_index("ix_case_kecamatan", ["kecamatan"])
        batch.create_index("ix_case_stage", ["stage"])
        batch.create_index("ix_case_status", ["status"])
        batch.create_index("ix_case_worker", ["worker"])

    op.create_table(
        "case_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("needs", sa.JSON, nullable=False),
        sa.Column("risk_level", sa.String(16), nullable=False),
        sa.Column("recommendation", sa.String(2000), nullable=False),
        sa.Column("assessed_by", sa.String(255), nullable=False),
        sa.Column("assessed_at", TS, nullable=False),
    )
    op.create_table(
        "intervention_plan",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("responsible_worker", sa.String(200), nullable=False),
        sa.Column("target_dates", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "service_delivery",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("component", sa.String(32), nullable=False),
        sa.Column("delivered_on", sa.Date, nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("facility_id", sa.String(64), nullable=False),
        sa.Column("facility_node", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("consent_override", sa.String(500), nullable=True),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("answer_note", sa.String(500), nullable=True),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.create_index("ix_audit_log_actor", ["actor"])


def downgrade():
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_actor")
    for table in ("referral", "service_delivery", "intervention_plan", "assessment", "case_history",
                  "consent", "person_disability", "person_category"):
        op.drop_table(table)
    with op.batch_alter_table("case") as batch:
        for index in ("ix_case_kecamatan", "ix_case_stage", "ix_case_status", "ix_case_worker"):
            batch.drop_index(index)
        for column in ("kecamatan", "worker", "closure_reason", "closure_outcome", "closure_requested_by",
                       "closed_at", "reopen_count"):
            batch.drop_column(column)
    with op.batch_alter_table("person") as batch:
        batch.drop_index("ix_person_name_key")
        batch.drop_index("ix_person_kecamatan")
        batch.drop_constraint("uq_person_registration_no", type_="unique")
        for column in ("registration_no", "name_key", "birth_year_estimated", "desa", "address", "phone",
                       "guardian_name", "guardian_relationship", "guardian_phone", "merged_into", "updated_at"):
            batch.drop_column(column)
