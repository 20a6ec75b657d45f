# cluster.sh — sourced: a throwaway PostgreSQL 15 cluster run by an unprivileged user,
# listening only on a Unix socket in its own directory (no TCP port to collide with).
#   cluster_start DIR [shared_preload_libraries]   exports PGHOST PGPORT PGUSER
#   cluster_stop DIR
PGBIN=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)

# Runs a command as the cluster's owner: Debian's postgres user when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}

cluster_stop() {
    local dir=$1
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "'$PGBIN/pg_ctl' -D '$dir/data' -m fast -w -t 30 stop" >/dev/null 2>&1 ||
            as_owner "'$PGBIN/pg_ctl' -D '$dir/data' -m immediate -w stop" >/dev/null 2>&1 || true
        # A postmaster whose data dir vanished or that ignores pg_ctl: kill it by its pid.
        local pid
        pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
}

cluster_start() {
    local dir=$1 preload=${2:-}
    cluster_stop "$dir"            # a stale cluster from an interrupted run
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    as_owner "'$PGBIN/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync" \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 4GB
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_worker_processes = 16
log_min_messages = warning
timezone = 'UTC'
CONF
    if [ -n "$preload" ]; then
        echo "shared_preload_libraries = '$preload'" >>"$dir/data/postgresql.conf"
        # fsmml's scheduler (launcher) serves this database; test/shell/bgw_*.sh use it.
        echo "fsmml.database = 'postgres'" >>"$dir/data/postgresql.conf"
    fi
    as_owner "'$PGBIN/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 start" >/dev/null ||
        { cat "$dir/server.log"; return 1; }
    export PGHOST=$dir PGPORT=5432 PGUSER=postgres
}
