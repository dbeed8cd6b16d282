#!/usr/bin/env bash
# A private dockerd for the Docker engine tests: no bridge, no iptables (the sandbox and CI
# have neither), its own socket and data under /tmp/flotilla-dockerd, and a tiny image built
# from busybox-static because no registry is reachable.
#
#   eval "$(scripts/ci/dockerd.sh start)"   # prints the TEST_DOCKER_* exports on stdout
#   scripts/ci/dockerd.sh status             # exit 0 when it is running and answers
#   scripts/ci/dockerd.sh stop
#
# Everything but the exports goes to stderr so `eval` sees only them. start and stop are
# idempotent.
set -euo pipefail

ROOT=${FLOTILLA_DOCKERD_ROOT:-/tmp/flotilla-dockerd}
SOCK="$ROOT/docker.sock"
PIDFILE="$ROOT/docker.pid"
LOG="$ROOT/dockerd.log"
HOST="unix://$SOCK"
IMAGE=flotilla-test:latest

say() { printf '%s\n' "$*" >&2; }

running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

answers() {
  docker -H "$HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

exports() {
  printf 'export TEST_DOCKER_HOST=%s\n' "$HOST"
  printf 'export TEST_DOCKER_IMAGE=%s\n' "$IMAGE"
}

build_image() {
  if docker -H "$HOST" image inspect "$IMAGE" >/dev/null 2>&1; then return 0; fi
  local busybox rootfs
  busybox=$(command -v busybox) || { say "busybox not found: apt-get install -y busybox-static"; exit 1; }
  if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
    # A dynamically linked busybox would need its libraries in the image too.
    say "warning: $busybox may not be statically linked (install busybox-static)"
  fi
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
  cp "$busybox" "$rootfs/bin/busybox"
  # --install -s links every applet, including /bin/sh, next to the binary.
  chroot "$rootfs" /bin/busybox --install -s /bin
  chmod 1777 "$rootfs/tmp"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  [ -x "$rootfs/bin/sh" ] || { say "the image rootfs has no /bin/sh"; exit 1; }
  tar -C "$rootfs" -c . | docker -H "$HOST" import \
    --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' \
    --change 'CMD ["/bin/sh"]' - "$IMAGE" >&2
  rm -rf "$rootfs"
}

start() {
  command -v dockerd >/dev/null || { say "dockerd not found: apt-get install -y docker.io"; exit 1; }
  command -v docker >/dev/null || { say "docker CLI not found: apt-get install -y docker.io"; exit 1; }
  mkdir -p "$ROOT"
  if running && answers; then
    build_image
    exports
    return 0
  fi
  if running; then
    say "dockerd (pid $(cat "$PIDFILE")) is running but does not answer on $SOCK; stopping it"
    stop
    mkdir -p "$ROOT"
  fi
  rm -f "$PIDFILE" "$SOCK"
  say "starting dockerd on $HOST (log: $LOG)"
  printf '\n=== %s dockerd.sh start ===\n' "$(date -u +%FT%TZ)" >>"$LOG"
  # setsid: the daemon must outlive the shell that started it (CI steps, eval); --wait
  # keeps $! alive exactly as long as dockerd, also when setsid has to fork.
  setsid --wait dockerd \
    --bridge=none --iptables=false --ip-forward=false \
    -H "$HOST" \
    --data-root "$ROOT/data" \
    --exec-root "$ROOT/exec" \
    --pidfile "$PIDFILE" \
    >>"$LOG" 2>&1 </dev/null &
  local pid=$! i
  for i in $(seq 1 150); do
    answers && break
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd exited while starting; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    sleep 0.2
  done
  if ! answers; then
    say "dockerd did not answer on $SOCK within 30 s; last lines of $LOG:"
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  build_image
  exports
}

stop() {
  if [ -f "$PIDFILE" ]; then
    local pid
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      if answers; then
        # Containers left by a failed test would keep their shims alive after the daemon.
        docker -H "$HOST" ps -aq | xargs -r docker -H "$HOST" rm -f >/dev/null 2>&1 || true
      fi
      kill "$pid"
      local i
      for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      if kill -0 "$pid" 2>/dev/null; then
        say "dockerd (pid $pid) did not stop within 20 s; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
      fi
    fi
  fi
  # The data root holds overlay mounts while the daemon runs; unmount what is left.
  if [ -d "$ROOT" ]; then
    grep -o " $ROOT[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$ROOT"
  fi
  say "dockerd stopped"
}

status() {
  if running && answers; then
    say "dockerd (pid $(cat "$PIDFILE")) answers on $HOST"
    return 0
  fi
  say "dockerd is not running on $HOST"
  return 1
}

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) say "usage: $0 start|status|stop"; exit 2 ;;
esac
