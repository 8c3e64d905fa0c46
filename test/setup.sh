#!/usr/bin/env bash
# setup.sh — prepare this machine for logship's demo and end-to-end tests.
# Idempotent; run as root (make setup / install / test / demo call it).
#
#   1. installs missing Debian packages (docker.io, busybox-static,
#      docker-compose, ca-certificates, procps, curl, python3);
#   2. starts dockerd when `docker info` fails and waits until it answers;
#   3. builds the test image logship-test/busybox:latest from /bin/busybox;
#   4. builds go-containerregistry's `registry` (for `docker plugin push`)
#      into the cache folder.
#
# Everything it creates outside Docker lives in $LOGSHIP_TEST_CACHE
# (default /var/cache/logship-test): dockerd.log, dockerd.cmdline, bin/,
# gopath/, gocache/. Quick (< 2 s) when everything is already there.
set -euo pipefail

CACHE=${LOGSHIP_TEST_CACHE:-/var/cache/logship-test}
IMAGE=logship-test/busybox:latest
REGISTRY_PKG=github.com/google/go-containerregistry/cmd/registry@v0.22.1
DOCKER_WAIT=${LOGSHIP_DOCKER_WAIT:-60}

die() { echo "setup.sh: $*" >&2; exit 1; }
note() { echo "setup.sh: $*" >&2; }

summary=()

# --- 1. packages ----------------------------------------------------------
# pkg:command — a package is skipped when it is installed, or when its
# command already exists (e.g. docker-ce instead of docker.io).
want=(
  "docker.io:dockerd"
  "busybox-static:"
  "docker-compose:docker-compose"
  "ca-certificates:"
  "procps:ps"
  "curl:curl"
  "python3:python3"
)
missing=()
for entry in "${want[@]}"; do
  pkg=${entry%%:*}
  cmd=${entry#*:}
  if [[ -n $cmd ]] && command -v "$cmd" >/dev/null 2>&1; then
    continue
  fi
  # a static /bin/busybox (from busybox-static or elsewhere) is all we need
  if [[ $pkg == busybox-static && -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; then
    continue
  fi
  if dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    continue
  fi
  missing+=("$pkg")
done

if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run as root so they can be installed"
  command -v apt-get >/dev/null 2>&1 && [[ -f /etc/debian_version ]] ||
    die "missing packages (${missing[*]}) and this is not a Debian/Ubuntu-like system; install them by hand"
  note "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
  summary+=("installed ${missing[*]}")
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (the tests restart plugins and dockerd)"
mkdir -p "$CACHE"

# --- 2. dockerd -----------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  if [[ -S /var/run/docker.sock ]] && pgrep -x dockerd >/dev/null 2>&1; then
    note "dockerd is running but not answering yet; waiting"
  elif command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    note "starting docker.service"
    systemctl start docker || die "systemctl start docker failed (see journalctl -u docker)"
  else
    note "starting dockerd (log: $CACHE/dockerd.log)"
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found"
    # The command line is recorded so the e2e harness can restart dockerd
    # the same way (test/e2e reads it when /var/run/docker.pid is stale).
    printf '%s\n' "dockerd" >"$CACHE/dockerd.cmdline"
    setsid nohup dockerd >>"$CACHE/dockerd.log" 2>&1 </dev/null &
    echo $! >"$CACHE/dockerd.pid"
  fi
  for ((i = 0; i < DOCKER_WAIT * 5; i++)); do
    docker info >/dev/null 2>&1 && break
    sleep 0.2
  done
  docker info >/dev/null 2>&1 ||
    die "dockerd did not answer within ${DOCKER_WAIT}s; see $CACHE/dockerd.log (or /var/log/dockerd.log, journalctl -u docker)"
  summary+=("started dockerd")
fi

# --- 3. test image --------------------------------------------------------
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  bb=/bin/busybox
  [[ -x $bb ]] || die "$bb not found (package busybox-static)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/tmp" "$tmp/rootfs/etc" "$tmp/rootfs/proc" \
    "$tmp/rootfs/sys" "$tmp/rootfs/dev" "$tmp/rootfs/root"
  chmod 1777 "$tmp/rootfs/tmp"
  cp "$bb" "$tmp/rootfs/bin/busybox"
  # `busybox --install -s` would need /proc/self/exe inside the rootfs;
  # symlinking every applet by hand is the same thing.
  while read -r applet; do
    [[ -n $applet && $applet != busybox ]] || continue
    ln -sf busybox "$tmp/rootfs/bin/$applet"
  done < <("$bb" --list)
  for a in sh echo printf seq sleep cat head yes dd tr; do
    [[ -e $tmp/rootfs/bin/$a ]] || die "busybox has no applet '$a'"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tmp/rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/rootfs/etc/group"
  tar -C "$tmp/rootfs" -c . |
    docker import \
      -c 'ENV PATH=/bin' \
      -c 'CMD ["sh"]' \
      -c 'LABEL org.opencontainers.image.description="busybox for logship tests"' \
      - "$IMAGE" >/dev/null || die "docker import of $IMAGE failed"
  summary+=("built $IMAGE")
fi

# --- 4. registry binary ---------------------------------------------------
if [[ ! -x $CACHE/bin/registry ]]; then
  command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]] || die "go not found (needed to build the test registry)"
  gobin=$(command -v go || echo /usr/local/go/bin/go)
  mkdir -p "$CACHE/bin" "$CACHE/gopath" "$CACHE/gocache"
  note "building $REGISTRY_PKG"
  (cd / && env GOBIN="$CACHE/bin" GOPATH="$CACHE/gopath" GOCACHE="$CACHE/gocache" \
    GOFLAGS=-modcacherw GO111MODULE=on CGO_ENABLED=0 \
    "$gobin" install "$REGISTRY_PKG") || die "go install $REGISTRY_PKG failed"
  summary+=("built registry")
fi

if ((${#summary[@]})); then
  joined=$(printf "%s, " "${summary[@]}")
  echo "setup.sh: ok (${joined%, })"
else
  echo "setup.sh: ok"
fi
