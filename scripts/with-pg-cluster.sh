#!/usr/bin/env bash
# with-pg-cluster.sh CMD [ARGS...]: runs CMD with TOKENJAR_TEST_DATABASE naming a PostgreSQL
# server's admin URL. When TOKENJAR_TEST_DATABASE is set already, CMD runs on that server;
# otherwise a throwaway cluster (scripts/pg-test-cluster.sh) is started in a temp folder for
# CMD and stopped afterwards, whether CMD passed, failed or was interrupted.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
if [ -n "${TOKENJAR_TEST_DATABASE:-}" ]; then
  exec "$@"
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/tokenjar-pg.XXXXXX")
trap '"$here/pg-test-cluster.sh" stop "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TOKENJAR_TEST_DATABASE=$("$here/pg-test-cluster.sh" start "$dir")
export TOKENJAR_TEST_DATABASE
echo "PostgreSQL for the tests: $TOKENJAR_TEST_DATABASE" >&2
"$@"
