#!/bin/sh
# Runs once, when a db-* container starts on an empty data volume (the postgres image sources
# /docker-entrypoint-initdb.d/*.sh after creating POSTGRES_DB). Creates the other databases of
# the office, one per service, named in POSTGRES_EXTRA_DATABASES and owned by POSTGRES_USER;
# the tables themselves come from the migrate-* jobs (`rehsos migrate`).
for rehsos_db in ${POSTGRES_EXTRA_DATABASES:-}; do
    echo "create-databases: $rehsos_db"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -c "CREATE DATABASE \"$rehsos_db\" OWNER \"$POSTGRES_USER\"" || exit 1
done
