#!/usr/bin/env bash
# setup.sh — prepare this machine for logship's demo and end-to-end tests.
# Idempotent; run as root (make setup / install / test / demo call it).
#
#   1. installs missing Debian packages (docker.io, busybox-static,
#      docker-compose, ca-certificates, procps, curl, python3);
#   2. starts dockerd when `docker info` fails and waits until it answers;
#   3. builds the test image logship-test/busybox:latest from /bin/busybox;
#   4. builds go-containerregistry's `registry` (for `docker plugin push`)
#      into the cache folder;
#   5. the real log receivers of the delivery tests (test/receivers/, started
#      by test/receivers/start.sh): a test CA with server and client certs
#      (openssl), the Fluentd forward receiver `ffrecv` (its own Go module in
#      test/receivers/ffrecv; rebuilt when its sources change) and
#      VictoriaLogs; rsyslog comes from the packages of step 1.
#
# Everything it creates outside Docker lives in $LOGSHIP_TEST_CACHE
# (default /var/cache/logship-test): dockerd.log, dockerd.cmdline, bin/,
# gopath/, gocache/, tls/. Quick (< 2 s) when everything is already there;
# a cold build of the receivers takes a few minutes.
set -euo pipefail

CACHE=${LOGSHIP_TEST_CACHE:-/var/cache/logship-test}
IMAGE=logship-test/busybox:latest
REGISTRY_PKG=github.com/google/go-containerregistry/cmd/registry@v0.22.1
VL_MOD=github.com/VictoriaMetrics/VictoriaLogs
VL_VERSION=v1.52.1
VL_PKG=$VL_MOD/app/victoria-logs@$VL_VERSION
RECEIVERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/receivers
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
  # receivers (step 5): rsyslog with both TLS drivers, certs, logger(1),
  # and a C toolchain for VictoriaLogs (cgo)
  "rsyslog:rsyslogd"
  "rsyslog-gnutls:"
  "rsyslog-openssl:"
  "openssl:openssl"
  "bsdutils:logger"
  "gcc:gcc"
  "libc6-dev:"
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
  # (not `dpkg -s | grep -q`: grep's early exit makes dpkg die of SIGPIPE,
  # and pipefail then reports the package as missing)
  if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == 'install ok installed' ]]; then
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

# --- 5. log receivers (test/receivers) -------------------------------------
# 5a. a test CA, a server cert (SAN localhost, 127.0.0.1) and a client cert
tls=$CACHE/tls
if [[ ! -s $tls/client.key ]]; then
  command -v openssl >/dev/null 2>&1 || die "openssl not found (package openssl)"
  tlstmp=$(mktemp -d "$CACHE/tls.XXXX")
  (
    cd "$tlstmp"
    ossl() { openssl "$@" >>openssl.log 2>&1 || { cat openssl.log >&2; exit 1; }; }
    ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=logship test CA" \
      -keyout ca.key -out ca.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" >server.ext
    printf '%s\n' "subjectAltName=DNS:logship-test-client" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=clientAuth" >client.ext
    for who in server client; do
      cn=localhost
      [[ $who == client ]] && cn=logship-test-client
      ossl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$who.key" -out "$who.csr"
      ossl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$who.ext" -out "$who.pem"
    done
    ossl verify -CAfile ca.pem server.pem client.pem
    rm -f ./*.csr ./*.ext ca.srl openssl.log
    chmod 644 ./*.pem
    chmod 600 ./*.key
  ) || { rm -rf "$tlstmp"; die "generating the test certificates failed"; }
  rm -rf "$tls"
  mv "$tlstmp" "$tls"
  chmod 755 "$tls"
  summary+=("made test certs")
fi

find_go() {
  command -v go 2>/dev/null || { [[ -x /usr/local/go/bin/go ]] && echo /usr/local/go/bin/go; } ||
    die "go not found (needed to build the test receivers)"
}
# go_env CMD...: CMD with the isolated Go environment of the cache folder
go_env() {
  mkdir -p "$CACHE/bin" "$CACHE/gopath" "$CACHE/gocache"
  env GOBIN="$CACHE/bin" GOPATH="$CACHE/gopath" GOCACHE="$CACHE/gocache" \
    GOFLAGS="-modcacherw -buildvcs=false" GO111MODULE=on GOTOOLCHAIN=local "$@"
}

# 5b. ffrecv, rebuilt when go.mod, go.sum or a .go file changed
ffsrc=$RECEIVERS_DIR/ffrecv
ffhash=$(cat "$ffsrc/go.mod" "$ffsrc/go.sum" "$ffsrc"/*.go | sha256sum | cut -d' ' -f1)
if [[ ! -x $CACHE/bin/ffrecv || $(cat "$CACHE/bin/ffrecv.srchash" 2>/dev/null) != "$ffhash" ]]; then
  gobin=$(find_go)
  note "building ffrecv (fluent forward receiver; a few minutes when cold; log: $CACHE/ffrecv-build.log)"
  (cd "$ffsrc" && go_env CGO_ENABLED=0 "$gobin" build -trimpath -ldflags="-s -w" -o "$CACHE/bin/ffrecv.tmp.$$" .) \
    >"$CACHE/ffrecv-build.log" 2>&1 ||
    die "building ffrecv failed: $(tail -n 20 "$CACHE/ffrecv-build.log")"
  mv -f "$CACHE/bin/ffrecv.tmp.$$" "$CACHE/bin/ffrecv"
  echo "$ffhash" >"$CACHE/bin/ffrecv.srchash"
  summary+=("built ffrecv")
fi

# 5c. VictoriaLogs (cgo: it links zstd's C code); the .pkg stamp names the
# version so a change of VL_PKG rebuilds it
vlbin=$CACHE/bin/victoria-logs
if [[ ! -x $vlbin || $(cat "$vlbin.pkg" 2>/dev/null) != "$VL_PKG" ]]; then
  gobin=$(find_go)
  # a binary without stamp (built by hand) is kept if it is that version
  if [[ -x $vlbin ]] && "$gobin" version -m "$vlbin" 2>/dev/null |
    grep -Eq "^[[:space:]]+mod[[:space:]]+$VL_MOD[[:space:]]+$VL_VERSION([[:space:]]|\$)"; then
    echo "$VL_PKG" >"$vlbin.pkg"
  else
    note "building $VL_PKG (about 2 minutes when cold; log: $CACHE/victoria-logs-build.log)"
    (cd / && go_env CGO_ENABLED=1 "$gobin" install -trimpath "$VL_PKG") >"$CACHE/victoria-logs-build.log" 2>&1 ||
      die "go install $VL_PKG failed: $(tail -n 20 "$CACHE/victoria-logs-build.log")"
    echo "$VL_PKG" >"$vlbin.pkg"
    summary+=("built victoria-logs")
  fi
fi

if ((${#summary[@]})); then
  joined=$(printf "%s, " "${summary[@]}")
  echo "setup.sh: ok (${joined%, })"
else
  echo "setup.sh: ok"
fi
