#!/usr/bin/env bash
# Builds the real Dockerfile and runs hello-world through the image, on a machine that cannot
# pull from a registry:
#
#   1. base image: when the Dockerfile's FROM (node:20-slim) is not in the daemon, a stand-in
#      is assembled from Debian packages — `debootstrap --variant=minbase` of bookworm (the
#      release node:20-slim is built on) from this machine's apt mirror, plus this machine's
#      Node 20 and npm in /usr/local, the `node` user (uid 1000) and this machine's CA bundle
#      — and tagged as the FROM. The Debian root filesystem is cached as a tarball under
#      $SMOKE_CACHE for the next run.
#   2. build: `docker build --network=host` of the Dockerfile (npm ci needs the registry).
#   3. run: `migrate` on a fresh Postgres database, then `serve` and `worker` in two
#      read-only containers (--network=host, this machine's Postgres and Redis on 127.0.0.1),
#      both with the Docker engine through a third container that relays the daemon's socket,
#      as docker-compose.yml's `docker` profile does.
#   4. hello-world: the README's REST sequence (define, execute, poll, read the log), with
#      the daemon's local test image in place of ubuntu:latest, once on the docker engine
#      and once on the local engine (inside the worker's container, as compose's default).
#
# A cold run (debootstrap, then two `npm ci` over the network) takes several minutes, too
# long for every CI run: it lives here, `.ci/run` runs it when CI_IMAGE_SMOKE=1.
#
# Uses the private dockerd of scripts/ci/dockerd.sh (started if needed, left running) and
# prints the figures it measured: base, build and smoke seconds, and the image size.
#
#   npm run bench:image             # = bash bench/image-smoke.sh; listens on SMOKE_PORT (default 5180) .. SMOKE_PORT+2, on 127.0.0.1
#   SMOKE_NO_CACHE=1 npm run bench:image    # build without the daemon's layer cache (a cold build's time)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_ADMIN_URL=${SMOKE_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL_SMOKE=${SMOKE_REDIS_URL:-redis://127.0.0.1:6379}
PORT=${SMOKE_PORT:-5180}
METRICS_PORT=$((PORT + 1))
SMOKE_CACHE=${SMOKE_CACHE:-/tmp/flotilla-image-smoke}
IMAGE=${SMOKE_IMAGE:-flotilla:smoke}
SUITE=bookworm

say() { printf 'image-smoke: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
for tool in docker psql curl node; do command -v "$tool" >/dev/null || die "$tool not found"; done

eval "$(bash scripts/ci/dockerd.sh start)"
export DOCKER_HOST=$TEST_DOCKER_HOST
SOCK=${DOCKER_HOST#unix://}
RUN_IMAGE=$TEST_DOCKER_IMAGE

DB=""
CONTAINERS=()
cleanup() {
  local status=$?
  set +e
  if ((status != 0)); then
    for c in "${CONTAINERS[@]}"; do
      say "last lines of $c:"
      docker logs --tail 40 "$c" 2>&1 | sed 's/^/  /' >&2
    done
  fi
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
  [[ -n "$DB" ]] && psql "$PG_ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. base image -------------------------------------------------------------------------------
t0=$SECONDS
BASE=$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)
[[ -n "$BASE" ]] || die "no FROM line in Dockerfile"

apt_mirror() {
  local m
  m=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n "$m" ]] || m=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

debian_tarball() { # debian_tarball OUT.tar: debootstrap's minbase root filesystem, as a tarball
  local out=$1 rootfs
  command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap"
  rootfs=$(mktemp -d "$SMOKE_CACHE/rootfs.XXXXXX")
  say "debootstrap --variant=minbase $SUITE from $(apt_mirror) (a few minutes, once)"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$(apt_mirror)" >"$SMOKE_CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$SMOKE_CACHE/debootstrap.log" >&2; rm -rf "$rootfs"; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar --numeric-owner -C "$rootfs" -cf "$out.part" . && mv "$out.part" "$out"
  rm -rf "$rootfs"
}

# The stand-in is made the way node:20-slim is: Debian bookworm, then node and npm under
# /usr/local and a `node` user with uid/gid 1000. It also trusts what this machine trusts
# (its CA bundle, as NODE_EXTRA_CA_CERTS): npm reaches the registry through this machine's
# network, which may inspect TLS with its own CA.
stand_in() {
  local debian_image=flotilla-smoke-debian:$SUITE tarball ctx node_bin npm_dir ca version
  tarball="$SMOKE_CACHE/debian-$SUITE-minbase.tar"
  if ! docker image inspect "$debian_image" >/dev/null 2>&1; then
    [[ -f "$tarball" ]] || debian_tarball "$tarball"
    say "importing $tarball as $debian_image"
    docker import --change 'CMD ["bash"]' "$tarball" "$debian_image" >/dev/null
  fi
  version=$(node --version)
  [[ "$version" == v20.* ]] || die "the stand-in needs this machine's Node 20, found $version"
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [[ -f "$npm_dir/package.json" ]] || die "cannot find npm's directory (from $(command -v npm))"
  ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
  ctx=$(mktemp -d)
  cp "$node_bin" "$ctx/node"
  cp -a "$npm_dir" "$ctx/npm"
  if [[ -f "$ca" ]]; then cp "$ca" "$ctx/ca-certificates.crt"; else : >"$ctx/ca-certificates.crt"; fi
  {
    echo "FROM $debian_image"
    echo 'COPY node /usr/local/bin/node'
    echo 'COPY npm /usr/local/lib/node_modules/npm'
    echo 'COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt'
    echo 'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm' \
      '&& ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx' \
      '&& groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
      '&& node --version && npm --version'
    echo "ENV NODE_VERSION=${version#v} NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"
    echo "LABEL org.flotilla.stand-in=\"$STAND_IN_LABEL\""
    echo 'CMD ["node"]'
  } >"$ctx/Dockerfile"
  docker build --force-rm -t "$BASE" "$ctx" >"$SMOKE_CACHE/stand-in.log" 2>&1 || { tail -n 20 "$SMOKE_CACHE/stand-in.log" >&2; rm -rf "$ctx"; die "could not build the stand-in $BASE"; }
  rm -rf "$ctx"
}

STAND_IN_LABEL="debootstrap $SUITE minbase + node $(node --version)"
present_label=$(docker image inspect -f '{{index .Config.Labels "org.flotilla.stand-in"}}' "$BASE" 2>/dev/null || echo missing)
if [[ "$present_label" != missing && ( -z "$present_label" || "$present_label" == "$STAND_IN_LABEL" ) ]]; then
  say "base image $BASE is present (${present_label:-from a registry})"
else
  mkdir -p "$SMOKE_CACHE"
  stand_in
  say "built the stand-in $BASE"
fi
base_s=$((SECONDS - t0))

# --- 2. build ----------------------------------------------------------------------------------------
t0=$SECONDS
say "docker build -t $IMAGE ."
docker build --force-rm --network=host ${SMOKE_NO_CACHE:+--no-cache} -t "$IMAGE" . >"${SMOKE_CACHE}/build.log" 2>&1 ||
  { tail -n 40 "${SMOKE_CACHE}/build.log" >&2; die "docker build failed (whole log: ${SMOKE_CACHE}/build.log)"; }
build_s=$((SECONDS - t0))
size_bytes=$(docker image inspect -f '{{.Size}}' "$IMAGE")

# --- 3. migrate, serve, worker -------------------------------------------------------------------------
t0=$SECONDS
DB="flotilla_smoke_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
psql "$PG_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null
DATABASE_URL="${PG_ADMIN_URL%/*}/$DB"
RELAY_PORT=$((PORT + 2))
# The topology of docker-compose.yml's `docker` profile: only the relay mounts the daemon's
# socket (it grants root on the daemon's host); serve and worker reach it over TCP.
common=(--network=host --read-only --tmpfs /tmp -e "DATABASE_URL=$DATABASE_URL" -e "REDIS_URL=$REDIS_URL_SMOKE"
  -e FLOTILLA_ENGINES=docker,local -e "DOCKER_HOST=tcp://127.0.0.1:$RELAY_PORT")

say "migrate"
docker run --rm "${common[@]}" "$IMAGE" node bin/flotilla.js migrate >&2

name="flotilla-smoke-$$"
say "docker socket relay on 127.0.0.1:$RELAY_PORT, serve on 127.0.0.1:$PORT, worker with health on 127.0.0.1:$METRICS_PORT"
CONTAINERS+=("$name-docker")
docker run -d --name "$name-docker" --network=host --read-only --user 0:0 -v "$SOCK:/var/run/docker.sock" \
  -e RELAY_HOST=127.0.0.1 -e "RELAY_PORT=$RELAY_PORT" "$IMAGE" node bin/docker-socket-relay.js >/dev/null
CONTAINERS+=("$name-serve")
docker run -d --name "$name-serve" "${common[@]}" -e HOST=127.0.0.1 -e "PORT=$PORT" -e FLOTILLA_AUTH=none "$IMAGE" >/dev/null
CONTAINERS+=("$name-worker")
docker run -d --name "$name-worker" "${common[@]}" -e HOST=127.0.0.1 -e "WORKER_METRICS_PORT=$METRICS_PORT" -e WORKER_SUBMIT_INTERVAL=200ms \
  "$IMAGE" node bin/flotilla.js worker >/dev/null

ready() { curl -fsS "$1" >/dev/null 2>&1; }
wait_ready() { # wait_ready URL WHAT
  local i
  for i in $(seq 1 120); do
    ready "$1" && return 0
    sleep 0.5
  done
  die "$2 is not ready at $1 after 60 s"
}
wait_ready "http://127.0.0.1:$PORT/health/ready" serve
wait_ready "http://127.0.0.1:$METRICS_PORT/health/ready" worker

# --- 4. hello-world ----------------------------------------------------------------------------------------
API="http://127.0.0.1:$PORT"
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];process.stdout.write(v===undefined||v===null?"":String(v))})' "$1"; }
definition=$(node -e 'const d=require("./examples/hello-world.json");d.image=process.argv[1];process.stdout.write(JSON.stringify(d))' "$RUN_IMAGE")
say "define hello-flotilla (image $RUN_IMAGE)"
curl -fsS -XPOST "$API/api/v6/task" --data "$definition" >/dev/null
curl -fsS "$API/api/v6/task/alias/hello-flotilla" >/dev/null
hello() { # hello CLUSTER: execute hello-flotilla there, wait for STOPPED 0 and "hello yourusername"
  local cluster=$1 run_id history status="" exit_code log="" i
  run_id=$(curl -fsS -XPUT "$API/api/v6/task/alias/hello-flotilla/execute" \
    --data '{"cluster":"'"$cluster"'","env":[{"name":"USERNAME","value":"yourusername"}],"run_tags":{"owner_id":"youruser"}}' | json run_id)
  [[ -n "$run_id" ]] || die "execute on $cluster answered no run_id"
  say "run $run_id on cluster $cluster"
  for i in $(seq 1 120); do
    history=$(curl -fsS "$API/api/v6/history/$run_id")
    status=$(json status <<<"$history")
    [[ "$status" == STOPPED ]] && break
    sleep 0.5
  done
  [[ "$status" == STOPPED ]] || die "run $run_id is $status after 60 s, not STOPPED"
  exit_code=$(json exit_code <<<"$history")
  [[ "$exit_code" == 0 ]] || die "run $run_id stopped with exit code $exit_code: $history"
  for i in $(seq 1 40); do
    log=$(curl -fsS "$API/api/v6/$run_id/logs?raw_text=true")
    [[ "$log" == *"hello yourusername"* ]] && break
    sleep 0.5
  done
  [[ "$log" == *"hello yourusername"* ]] || die "the log of $run_id is not hello: $(printf %q "$log")"
  say "run $run_id STOPPED 0, log \"hello yourusername\""
}
# `default` is the docker engine's (the first enabled); `local` is the compose file's default
# engine, which runs the command inside the worker's (read-only, /tmp on tmpfs) container.
hello default
hello local
smoke_s=$((SECONDS - t0))

say "hello-world ran through $IMAGE on the docker and the local engine"
printf 'image-smoke: base %ss, build %ss, smoke %ss, image %s MB (%s bytes)\n' \
  "$base_s" "$build_s" "$smoke_s" "$((size_bytes / 1000000))" "$size_bytes"
