#!/bin/sh
# Entry point of the local RabbitMQ image (deploy/images/rabbitmq): what the official image's does
# for this province. The data volume and the definitions written by broker-entrypoint.sh (as root)
# must belong to rabbitmq, and RabbitMQ runs as that user, not as root.
set -eu
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
chown rabbitmq:rabbitmq /etc/rabbitmq /etc/rabbitmq/definitions.json 2>/dev/null || true
# Debian's /usr/sbin/rabbitmq-server writes the server's output to /var/log/rabbitmq/startup_log;
# the server itself writes it to the container's output, as the official image does.
if [ "$1" = rabbitmq-server ]; then
    shift
    set -- /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
