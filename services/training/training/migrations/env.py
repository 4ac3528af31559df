from training.models import Base
from rehsos.migration_env import run_migrations

run_migrations(Base.metadata)
