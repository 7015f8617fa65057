#!/usr/bin/env bash
# Builds the Dockerfile's image and runs it the way deploy/helm/dashgate runs it (read-only root
# filesystem, /tmp as tmpfs, /data a volume, every capability dropped, no new privileges), in
# front of the real Dash test app, then checks what the image promises: `dashgate health` (also
# as the image's HEALTHCHECK), the unprivileged user, the read-only root, the data directory's
# modes, a sign-in through the gateway to the app, setpriv for `dashgate run`, and a clean exit
# on SIGTERM. Prints "N passed, N failed" and exits non-zero on any failure.
#
#   bash scripts/image-test.sh            (root: installs podman, runc, mmdebstrap when missing)
#
# The base image: node:20-bookworm-slim when a registry answers; otherwise (no registry on this
# kind of machine) a stand-in bootstrapped from Debian's packages with mmdebstrap (bookworm,
# minbase) plus this machine's Node 20, laid out like the official image (/usr/local). What that
# does and does not prove is in docs/operations.md ("The container image").
# Slow (compiles better-sqlite3 inside the build): minutes, not for `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

IMAGE=localhost/dashgate:image-test
STANDIN=localhost/dashgate-test/node:20-bookworm-slim
OFFICIAL=docker.io/library/node:20-bookworm-slim
DEBIAN_BASE=localhost/dashgate-test/debian:bookworm-minbase
WORK=$(mktemp -d /tmp/dashgate-image-test.XXXXXX)
NAME=dashgate-image-test-$$
VOLUME=dashgate-image-test-$$
APP_PID=

# This sandbox has no CAP_SYS_RESOURCE and mixed cgroup v1/v2: runc copes where crun refuses,
# and limits must stay below the current hard limits (podman asks for more by default).
PODMAN=(podman)
RUN_OPTS=(--network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

cleanup() {
  for c in "$NAME" "$NAME-pg1" "$NAME-pg2" "$NAME-pg3"; do "${PODMAN[@]}" rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  if [ -n "${PG_DB:-}" ]; then psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists $PG_DB" >/dev/null 2>&1 || true; fi
  "${PODMAN[@]}" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
check() {
  local name=$1
  shift
  local rc=0
  "$@" >"$WORK/check.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "not ok - $name (exit $rc)"
    sed 's/^/    /' "$WORK/check.log"
    failed=$((failed + 1))
  fi
}

echo "== tools"
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" uidmap >/dev/null
fi
PODMAN+=(--runtime "$(command -v runc)")

echo "== base image"
if timeout 60 "${PODMAN[@]}" pull -q "$OFFICIAL" >/dev/null 2>&1; then
  NODE_IMAGE=$OFFICIAL
  echo "using $OFFICIAL"
elif "${PODMAN[@]}" image exists "$STANDIN" && [ -z "${DASHGATE_IMAGE_TEST_REBOOTSTRAP:-}" ]; then
  NODE_IMAGE=$STANDIN
  echo "no registry answered; reusing the stand-in $STANDIN (DASHGATE_IMAGE_TEST_REBOOTSTRAP=1 makes it anew)"
else
  NODE_IMAGE=$STANDIN
  echo "no registry answered; making the stand-in $STANDIN from Debian packages and this machine's Node"
  node_bin=$(command -v node)
  case "$("$node_bin" --version)" in v20.*) ;; *) echo "the stand-in needs this machine's node to be Node 20" >&2; exit 1 ;; esac
  node_prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$WORK/base"
  if [ -n "${DASHGATE_IMAGE_TEST_REBOOTSTRAP:-}" ] || ! "${PODMAN[@]}" image exists "$DEBIAN_BASE"; then
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$WORK/base/rootfs.tar" http://deb.debian.org/debian
    "${PODMAN[@]}" import -q "$WORK/base/rootfs.tar" "$DEBIAN_BASE" >/dev/null
    rm -f "$WORK/base/rootfs.tar"
  fi
  # Node where the official image has it: /usr/local/bin/node, npm, and the headers node-gyp needs.
  mkdir -p "$WORK/base/node/usr/local/bin" "$WORK/base/node/usr/local/lib/node_modules" "$WORK/base/node/usr/local/include" "$WORK/base/node/etc/ssl/certs"
  cp "$(readlink -f "$node_bin")" "$WORK/base/node/usr/local/bin/node"
  cp -a "$npm_dir" "$WORK/base/node/usr/local/lib/node_modules/npm"
  cp -a "$node_prefix/include/node" "$WORK/base/node/usr/local/include/node"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$WORK/base/node/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$WORK/base/node/usr/local/bin/npx"
  # The CAs this machine trusts: its way to the npm registry presents a certificate signed by one
  # that Debian's bundle lacks. A file of its own, so update-ca-certificates never replaces it.
  cp /etc/ssl/certs/ca-certificates.crt "$WORK/base/node/etc/ssl/certs/machine-ca-bundle.crt"
  printf 'FROM %s\nCOPY node/ /\nENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/machine-ca-bundle.crt\nCMD ["node"]\n' "$DEBIAN_BASE" >"$WORK/base/Containerfile"
  "${PODMAN[@]}" build -q "${RUN_OPTS[@]}" -f "$WORK/base/Containerfile" -t "$STANDIN" "$WORK/base" >/dev/null
fi

echo "== build"
# --format docker: OCI image configs have no HEALTHCHECK; Docker's keep it.
"${PODMAN[@]}" build --format docker "${RUN_OPTS[@]}" --build-arg NODE_IMAGE="$NODE_IMAGE" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
echo "built $IMAGE ($("${PODMAN[@]}" image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MiB", $1/1048576}'))"

echo "== run"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
APP_PORT=$(free_port)
GW_PORT=$(free_port)
PYTHON=${E2E_PYTHON:-$ROOT/.venv/bin/python}
"$PYTHON" -m gunicorn -w 1 -b "127.0.0.1:$APP_PORT" --chdir "$ROOT/test/fixtures/dash_app" app:server >"$WORK/app.log" 2>&1 &
APP_PID=$!
cat >"$WORK/dashgate.yaml" <<'YAML'
# HTTP Basic on one path, so the test can sign in with one request (the login form needs a browser's cookie round trip).
access:
  rules:
    - path: /_dash-layout
      policy: authenticated
      allow_basic: true
YAML
"${PODMAN[@]}" volume create "$VOLUME" >/dev/null
"${PODMAN[@]}" run -d --name "$NAME" "${RUN_OPTS[@]}" \
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  -v "$VOLUME:/data" -v "$WORK/dashgate.yaml:/etc/dashgate/dashgate.yaml:ro" \
  -e DASHGATE_UPSTREAM="http://127.0.0.1:$APP_PORT" -e DASHGATE_SERVER__PORT="$GW_PORT" \
  "$IMAGE" >/dev/null 2>"$WORK/run.log" || { cat "$WORK/run.log"; exit 1; }
in_container() { "${PODMAN[@]}" exec "$NAME" "$@"; }
for _ in $(seq 1 60); do in_container dashgate health >/dev/null 2>&1 && break; sleep 1; done

echo "== checks"
check "dashgate health (liveness) exits 0" in_container dashgate health
check "dashgate health --ready exits 0 with the app up" in_container dashgate health --ready
check "the image's HEALTHCHECK is dashgate health" sh -c "${PODMAN[*]} image inspect $IMAGE --format '{{json .Config.Healthcheck.Test}}' | grep -F '\"dashgate\",\"health\"'"
check "podman runs the HEALTHCHECK and finds it healthy" "${PODMAN[@]}" healthcheck run "$NAME"
check "the gateway (PID 1) runs as uid 10001, not root" sh -c "${PODMAN[*]} exec $NAME sh -c 'grep -E \"^Uid:\\s+10001\\s\" /proc/1/status'"
check "PID 1 is node with --max-semi-space-size=2" sh -c "${PODMAN[*]} exec $NAME sh -c 'tr \"\\0\" \" \" </proc/1/cmdline' | grep -E '^node --max-semi-space-size=2 /opt/dashgate/dist/main.js serve'"
check "no capabilities in the gateway process" sh -c "${PODMAN[*]} exec $NAME sh -c 'grep -E \"^CapEff:\\s+0+$\" /proc/1/status'"
check "the root filesystem is read-only" sh -c "! ${PODMAN[*]} exec $NAME sh -c 'touch /opt/dashgate/written'"
check "/tmp is writable (tmpfs)" in_container sh -c 'touch /tmp/written'
check "/data is mode 0700 and owned by the gateway's user" sh -c "${PODMAN[*]} exec $NAME stat -c '%a %u' /data | grep -x '700 10001'"
check "the SQLite database in /data is mode 0600" sh -c "${PODMAN[*]} exec $NAME sh -c 'stat -c %a /data/*.db' | grep -x 600"
check "setpriv is there for dashgate run" in_container /usr/bin/setpriv --pdeathsig SIGTERM /bin/echo setpriv-ran
check "dashgate users add works in the container (argon2 native module)" sh -c "printf 'correct horse battery staple\\n' | ${PODMAN[*]} exec -i $NAME dashgate users add alice --password-stdin"
check "anonymous page request is sent to the login page" sh -c "curl -s -o /dev/null -H 'Accept: text/html' -w '%{http_code} %{redirect_url}' http://127.0.0.1:$GW_PORT/ | grep -E '^303 .*/_dashgate/login'"
check "signed in (HTTP Basic), the request reaches the Dash app" sh -c "curl -sf -u 'alice:correct horse battery staple' http://127.0.0.1:$GW_PORT/_dash-layout | grep -F 'Weather dashboard'"
check "a wrong password is refused" sh -c "curl -s -o /dev/null -w '%{http_code}' -u 'alice:wrong password here' http://127.0.0.1:$GW_PORT/_dash-layout | grep -x 401"

# Three replicas on one PostgreSQL (the machine's, when it runs): started together, so their
# migrations race; a user added through one signs in through the others.
if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  PG_DB=dashgate_image_test_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "create database $PG_DB" >/dev/null
  PG_PORTS=()
  starting=()
  for i in 1 2 3; do
    port=$(free_port)
    PG_PORTS+=("$port")
    "${PODMAN[@]}" run -d --name "$NAME-pg$i" "${RUN_OPTS[@]}" \
      --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
      -e DASHGATE_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$PG_DB" \
      -e DASHGATE_UPSTREAM="http://127.0.0.1:$APP_PORT" -e DASHGATE_SERVER__PORT="$port" \
      -v "$WORK/dashgate.yaml:/etc/dashgate/dashgate.yaml:ro" "$IMAGE" >/dev/null 2>>"$WORK/run.log" &
    starting+=($!)
  done
  wait "${starting[@]}"
  ready_all() { for i in 1 2 3; do "${PODMAN[@]}" exec "$NAME-pg$i" dashgate health --ready >/dev/null 2>&1 || return 1; done; }
  for _ in $(seq 1 60); do ready_all && break; sleep 1; done
  check "PostgreSQL: three replicas started together are all ready" ready_all
  check "PostgreSQL: a user added through replica 1" sh -c "printf 'another fine passphrase\\n' | ${PODMAN[*]} exec -i $NAME-pg1 dashgate users add bob --password-stdin"
  for i in 2 3; do
    check "PostgreSQL: ... signs in through replica $i" sh -c "curl -sf -u 'bob:another fine passphrase' http://127.0.0.1:${PG_PORTS[$((i - 1))]}/_dash-layout | grep -F 'Weather dashboard'"
  done
  check "PostgreSQL: every migration is applied, each once" sh -c "psql -At -h 127.0.0.1 -U postgres -d $PG_DB -c 'select count(*) from kysely_migration' | grep -x $(ls "$ROOT"/src/store/migrations/postgres/*.sql | wc -l)"
  if [ "$failed" -gt 0 ]; then "${PODMAN[@]}" logs "$NAME-pg1" 2>&1 | tail -10 | sed 's/^/    pg1 log: /'; fi
  for i in 1 2 3; do "${PODMAN[@]}" rm -f -t 0 "$NAME-pg$i" >/dev/null 2>&1; done
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database $PG_DB" >/dev/null
else
  echo "(no PostgreSQL on 127.0.0.1:5432: replicas on PostgreSQL not checked)"
fi

kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true; APP_PID=
check "dashgate health --ready fails with the app down" sh -c "! ${PODMAN[*]} exec $NAME dashgate health --ready"
check "SIGTERM: the gateway stops and exits 0" sh -c "${PODMAN[*]} stop -t 30 $NAME >/dev/null && ${PODMAN[*]} inspect $NAME --format '{{.State.ExitCode}}' | grep -x 0"
if [ "$failed" -gt 0 ]; then "${PODMAN[@]}" logs "$NAME" 2>&1 | tail -20 | sed 's/^/    log: /'; fi

echo "image: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
