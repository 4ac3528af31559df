from rehsos.auth import metadata
from rehsos.migration_env import run_migrations

run_migrations(metadata)
