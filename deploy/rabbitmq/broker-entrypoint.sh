#!/bin/sh
# Entrypoint of every RabbitMQ container of the province (hub and nodes): see deploy/README.md.
#
# The committed definitions (deploy/rabbitmq/*.definitions.json, from `rehsos definitions`) hold
# the topology only: no users, because users carry passwords. RabbitMQ 3.10 creates no default
# user on a blank node that imports definitions at boot, so without users in the imported file
# nobody could log in. This script therefore writes the file RabbitMQ loads
# (load_definitions in rabbitmq.conf) from the mounted topology plus two users taken from the
# environment, then hands over to the image's own entrypoint:
#
#   BROKER_ADMIN_USER / BROKER_ADMIN_PASSWORD   administrator: management API, `rehsos bootstrap`
#   BROKER_APP_USER / BROKER_APP_PASSWORD       the office's services, on BROKER_VHOST only
#
# Passwords are restricted to URI- and JSON-safe characters (deploy/make_env.py generates such).
# The import runs on every start, so a changed password takes effect on the next restart.
set -eu

topology="${BROKER_TOPOLOGY_FILE:-/etc/rehsos/definitions.json}"
target="${BROKER_DEFINITIONS_FILE:-/etc/rabbitmq/definitions.json}"

fail() {
    echo "broker-entrypoint: $*" >&2
    exit 64
}

for var in BROKER_ADMIN_USER BROKER_ADMIN_PASSWORD BROKER_APP_USER BROKER_APP_PASSWORD BROKER_VHOST; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || fail "$var is not set (see deploy/env/example.env)"
    case "$value" in
        *[!A-Za-z0-9._~-]*) fail "$var may contain only letters, digits and . _ ~ -" ;;
    esac
done
[ -r "$topology" ] || fail "topology definitions $topology not found"
[ "$(head -n 1 "$topology")" = "{" ] || fail "$topology is not a \`rehsos definitions\` file"
if grep -q '"users"\|"permissions"' "$topology"; then
    fail "$topology already has users or permissions; the topology must stay secret-free"
fi

umask 077
{
    echo "{"
    echo "  \"users\": ["
    echo "    {\"name\": \"$BROKER_ADMIN_USER\", \"password\": \"$BROKER_ADMIN_PASSWORD\", \"tags\": \"administrator\"},"
    echo "    {\"name\": \"$BROKER_APP_USER\", \"password\": \"$BROKER_APP_PASSWORD\", \"tags\": \"\"}"
    echo "  ],"
    echo "  \"permissions\": ["
    echo "    {\"user\": \"$BROKER_ADMIN_USER\", \"vhost\": \"$BROKER_VHOST\", \"configure\": \".*\", \"write\": \".*\", \"read\": \".*\"},"
    echo "    {\"user\": \"$BROKER_APP_USER\", \"vhost\": \"$BROKER_VHOST\", \"configure\": \".*\", \"write\": \".*\", \"read\": \".*\"}"
    echo "  ],"
    tail -n +2 "$topology"
} > "$target.tmp"
mv "$target.tmp" "$target"
if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    chown rabbitmq:rabbitmq "$target"
fi

exec docker-entrypoint.sh "$@"
