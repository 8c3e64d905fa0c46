#!/usr/bin/env bash
# bench.sh — logship's benchmark suite (`make bench`; the Makefile runs
# test/setup.sh first). See test/bench/README.md.
#
# Builds, into build/bench/:
#   bin/bench            the driver of the suite (test/bench, Go)
#   nop-plugin/          a do-nothing log plugin (test/bench/nopplugin),
#                        installed as logship-nop:latest for the run
#   logship-plugin/      the work tree's logship, installed for the run as
#                        logship-bench:latest (own DATA_DIR and metrics port),
#                        so that someone's `make install` cannot swap the
#                        plugin under a measurement; BENCH_LOGSHIP_PLUGIN=NAME
#                        measures an installed plugin instead
# then runs bin/bench, which writes build/bench/results.{md,json} and prints
# the table. The plugins it created are removed at the end
# (BENCH_KEEP_PLUGINS=1 keeps them); no other plugin is touched.
#
# Knobs (environment): BENCH_QUICK=1 (under a minute), BENCH_LINES,
# BENCH_ROUNDS, BENCH_LOGS_MB, BENCH_PARALLEL, BENCH_PARALLEL_LINES,
# BENCH_PHASES=e2e,logs,parallel,gobench,compress, BENCH_PROFILE=1 (perf),
# BENCH_NOP_VARIANTS=plain,nap, BENCH_GO_BENCHTIME, BENCH_FFRECV, BENCH_CORPUS,
# BENCH_ROWS, BENCH_LOGSHIP_VARIANTS (see test/bench/README.md).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/build/bench
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "bench.sh: go not found" >&2; exit 1; }

mkdir -p "$out/bin"
echo "bench.sh: building" >&2
go build -o "$out/bin/bench" ./test/bench

# The do-nothing plugin: config.json + a rootfs with the static binary.
nop=$out/nop-plugin
rm -rf "$nop"
mkdir -p "$nop/rootfs/run/docker/plugins" "$nop/rootfs/run/docker/logging" "$nop/rootfs/tmp"
CGO_ENABLED=0 go build -trimpath -o "$nop/rootfs/nopplugin" ./test/bench/nopplugin
cp test/bench/nopplugin/config.json "$nop/config.json"
# BENCH_NOP_VARIANTS=plain,nap: the same plugin with other defaults, as
# more rows: plain = io.Copy from the kernel's 64 KiB pipe; nap = 200 µs
# pause after short reads. dockerd refuses two plugins made of the same
# content, so each gets its own config.json and a marker file.
IFS=, read -r -a variants <<<"${BENCH_NOP_VARIANTS:-}"
for v in "${variants[@]}"; do
  case $v in
  plain) sed_expr='s/"value": "65536"/"value": "0"/; s/"value": "1048576"/"value": "0"/' ;;
  nap) sed_expr='/"NOP_NAP_US"/,/"value"/ s/"value": "0"/"value": "200"/' ;;
  *) echo "bench.sh: BENCH_NOP_VARIANTS: unknown variant '$v' (plain, nap)" >&2; exit 2 ;;
  esac
  rm -rf "$nop-$v"
  cp -a "$nop" "$nop-$v"
  echo "$v" >"$nop-$v/rootfs/variant"
  sed -e "$sed_expr" test/bench/nopplugin/config.json >"$nop-$v/config.json"
done

# GIT_OPTIONAL_LOCKS=0: describe --dirty must not refresh the index (this
# script never changes git state).
version=$(GIT_OPTIONAL_LOCKS=0 git describe --tags --always --dirty 2>/dev/null || echo dev)
logship_args=()
if [[ -z ${BENCH_LOGSHIP_PLUGIN:-} ]]; then
  # As the Makefile's plugin-dir, but without -s -w so that perf can name
  # functions (the symbol table changes nothing at run time).
  ls=$out/logship-plugin
  rm -rf "$ls"
  mkdir -p "$ls/rootfs/run/docker/plugins" "$ls/rootfs/tmp" "$ls/rootfs/etc/ssl/certs" "$ls/rootfs/var/lib/docker"
  CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$version" -o "$ls/rootfs/logship" ./cmd/logship
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then cp /etc/ssl/certs/ca-certificates.crt "$ls/rootfs/etc/ssl/certs/"; fi
  cp config.json "$ls/config.json"
  logship_args=(-logship-dir "$ls")
else
  version="installed plugin ${BENCH_LOGSHIP_PLUGIN}"
fi

cleanup() {
  [[ ${BENCH_KEEP_PLUGINS:-} == 1 ]] && return 0
  local ids p
  ids=$(docker ps -aq --filter label=logship-bench 2>/dev/null || true)
  if [[ -n $ids ]]; then docker rm -f $ids >/dev/null 2>&1 || true; fi
  # (logship-bench-<label>: the BENCH_LOGSHIP_VARIANTS plugins)
  for p in logship-nop:latest logship-nop-plain:latest logship-nop-nap:latest logship-bench:latest \
    $(docker plugin ls --format '{{.Name}}' 2>/dev/null | grep '^logship-bench-' || true); do
    if docker plugin inspect "$p" >/dev/null 2>&1; then
      docker plugin disable -f "$p" >/dev/null 2>&1 || true
      docker plugin rm -f "$p" >/dev/null 2>&1 || true
    fi
  done
  rm -rf /var/lib/docker/logship-bench /var/lib/docker/logship-bench-*
}
trap cleanup EXIT

"$out/bin/bench" -repo "$repo" -out "$out" -nop-dir "$nop" -logship-version "$version" "${logship_args[@]}"
echo "bench.sh: results in build/bench/results.md and build/bench/results.json" >&2
