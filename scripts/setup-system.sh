#!/usr/bin/env bash
# Installs and starts what the test suite needs besides npm packages: Debian packages,
# the Docker engine, and the machine's PostgreSQL and Redis when they are not running.
# Idempotent: each step checks before it acts, so a warm machine pays a few seconds.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need_pkgs+=(openssh-client)
command -v psql >/dev/null 2>&1 || need_pkgs+=(postgresql-client)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  log 'starting PostgreSQL'
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log 'starting Redis'
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi

if ! docker info >/dev/null 2>&1; then
  log 'starting dockerd'
  as_root sh -c 'nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >/var/log/sluice-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log 'dockerd did not start; see /var/log/sluice-dockerd.log'; exit 1; }
fi
log 'system ready'
