#!/usr/bin/env bash
# Set up sunup on a fresh machine: system packages it runs (as root, with apt-get), then a
# virtual environment in .venv with sunup and its development tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: sunup needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi

# System packages: only those missing, only when we can install them.
packages=()
command -v bash >/dev/null || packages+=(bash)
command -v setsid >/dev/null || packages+=(util-linux)
command -v git >/dev/null || packages+=(git)
# The servers sunup runs as the project's services (its own data folders and ports).
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || packages+=(mariadb-server mariadb-client)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || packages+=(postgresql postgresql-client)
command -v redis-server >/dev/null || packages+=(redis-server)
command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ] || packages+=(rabbitmq-server)
# The router (routes, web.locations) is sunup's own nginx; wrk is the benchmarks' load generator.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || packages+=(nginx-light)
command -v wrk >/dev/null || packages+=(wrk)
# PHP apps run on the platform's PHP-FPM behind the app's nginx; Composer builds them.
[ -x /usr/sbin/php-fpm8.2 ] || packages+=(php8.2-fpm)
# Beside the services' clients, the extensions the platform enables by default that Composer and the
# common templates (Drupal, Symfony, Laravel, WordPress) expect: curl, mbstring, xml, intl, gd, zip.
for ext in cli mysql pgsql redis amqp curl mbstring xml intl gd zip sqlite3 bcmath; do
  dpkg -s "php8.2-$ext" >/dev/null 2>&1 || packages+=("php8.2-$ext")
done
command -v composer >/dev/null || packages+=(composer)
# The dashboard's tests drive Debian's Chromium headless (Playwright, pointed at /usr/bin/chromium).
command -v chromium >/dev/null || packages+=(chromium)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "--> installing system packages: ${packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
  else
    echo "warning: missing system packages: ${packages[*]} (install them with your package manager)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "--> creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "--> installing sunup into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "--> ready: $(.venv/bin/sunup --version)"
