#!/usr/bin/env bash
# Build and install the TimescaleDB extension for the local PostgreSQL 15 once, from the
# vendored release source (no registry this machine reaches ships it). Sourced by
# scripts/test.sh (timescaledb_ensure) or run directly. Idempotent: an existing install is
# detected and nothing is rebuilt; the build tree is cached outside the clone.
# Never fatal: without the tarball, root or the server headers it says why and returns 0,
# and the TimescaleDB tests skip.
TSDB_VERSION=${TSDB_VERSION:-2.28.3}
TSDB_TARBALL=${TSDB_TARBALL:-}
TSDB_CACHE=${TSDB_CACHE:-/var/cache/stockcast/timescaledb-$TSDB_VERSION}
TSDB_PG_CONFIG=${TSDB_PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

timescaledb_installed() {
  [ -x "$TSDB_PG_CONFIG" ] || return 1
  local libdir sharedir
  libdir=$("$TSDB_PG_CONFIG" --pkglibdir)
  sharedir=$("$TSDB_PG_CONFIG" --sharedir)
  [ -f "$libdir/timescaledb-$TSDB_VERSION.so" ] &&
    [ -f "$libdir/timescaledb-tsl-$TSDB_VERSION.so" ] &&
    [ -f "$sharedir/extension/timescaledb--$TSDB_VERSION.sql" ]
}

timescaledb_find_tarball() {
  [ -n "$TSDB_TARBALL" ] && { echo "$TSDB_TARBALL"; return; }
  local here candidate
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  # The shared vendor folder sits beside the clone (../shared) or one level up (../../shared
  # for a worktree under wt/).
  for candidate in "$here/../shared/vendor" "$here/../../shared/vendor" "$here/vendor"; do
    if [ -f "$candidate/timescaledb-$TSDB_VERSION.tar.gz" ]; then
      echo "$(cd "$candidate" && pwd)/timescaledb-$TSDB_VERSION.tar.gz"
      return
    fi
  done
}

timescaledb_ensure() {
  if timescaledb_installed; then
    echo "TimescaleDB $TSDB_VERSION already installed in $("$TSDB_PG_CONFIG" --pkglibdir)"
    return 0
  fi
  local tarball
  tarball=$(timescaledb_find_tarball)
  if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
    echo "TimescaleDB source timescaledb-$TSDB_VERSION.tar.gz not found (set TSDB_TARBALL);" \
      "TimescaleDB tests will be skipped" >&2
    return 0
  fi
  if [ ! -x "$TSDB_PG_CONFIG" ] || ! command -v cmake >/dev/null 2>&1 ||
    [ ! -f "$("$TSDB_PG_CONFIG" --includedir-server)/postgres.h" ]; then
    echo "TimescaleDB build needs postgresql-server-dev-15 and cmake;" \
      "TimescaleDB tests will be skipped" >&2
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "TimescaleDB is not installed and installing it into $("$TSDB_PG_CONFIG" --pkglibdir)" \
      "needs root; TimescaleDB tests will be skipped" >&2
    return 0
  fi
  local src=$TSDB_CACHE/timescaledb-$TSDB_VERSION
  if [ ! -f "$TSDB_CACHE/.built" ]; then
    echo "== building TimescaleDB $TSDB_VERSION in $TSDB_CACHE (once, ~2-3 min)"
    rm -rf "$TSDB_CACHE"
    mkdir -p "$TSDB_CACHE"
    if ! (tar -xzf "$tarball" -C "$TSDB_CACHE" &&
      cd "$src" &&
      ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
        -DPG_CONFIG="$TSDB_PG_CONFIG" >"$TSDB_CACHE/build.log" 2>&1 &&
      make -C build -j2 >>"$TSDB_CACHE/build.log" 2>&1); then
      echo "TimescaleDB build failed (log: $TSDB_CACHE/build.log);" \
        "TimescaleDB tests will be skipped" >&2
      return 0
    fi
    touch "$TSDB_CACHE/.built"  # an interrupted build is redone next time
  fi
  if ! make -C "$src/build" install >>"$TSDB_CACHE/build.log" 2>&1; then
    echo "TimescaleDB install failed (log: $TSDB_CACHE/build.log);" \
      "TimescaleDB tests will be skipped" >&2
    return 0
  fi
  echo "TimescaleDB $TSDB_VERSION installed in $("$TSDB_PG_CONFIG" --pkglibdir)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  timescaledb_ensure
fi
