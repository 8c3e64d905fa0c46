#!/usr/bin/env bash
# run-tests.sh — THE test command (`make test`; .ci/run): setup, vet, unit
# and integration tests, race detector on the concurrent packages, a short
# fuzz smoke per Fuzz target, then the plugin is (re)installed and the
# end-to-end suite runs against a real dockerd. Run as root from anywhere.
#
# Knobs (environment):
#   LOGSHIP_FUZZTIME=10s      per fuzz target; 0 skips fuzzing
#   LOGSHIP_E2E_SHORT=1       go test -short for the e2e suite (skips slow tests)
#   LOGSHIP_E2E_RUN=REGEXP    only these e2e tests
#   LOGSHIP_SKIP_E2E=1        stop after the unit tests
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
GO=${GO:-go}
FUZZTIME=${LOGSHIP_FUZZTIME:-10s}

step=""
t_step=$SECONDS
t_all=$SECONDS
timings=()
begin() {
  finish_step
  step=$1
  t_step=$SECONDS
  printf '\n==> %s\n' "$step"
}
finish_step() {
  [[ -n $step ]] && timings+=("$(printf '%5ds  %s' $((SECONDS - t_step)) "$step")")
  step=""
}
on_exit() {
  local rc=$?
  local failed=$step
  finish_step
  printf '\n==> timings\n'
  printf '%s\n' "${timings[@]}"
  if ((rc == 0)); then
    printf 'run-tests.sh: PASS (%ds)\n' $((SECONDS - t_all))
  else
    printf 'run-tests.sh: FAIL in "%s" (exit %d, %ds)\n' "$failed" "$rc" $((SECONDS - t_all)) >&2
  fi
}
trap on_exit EXIT

begin "setup"
bash test/setup.sh

begin "gofmt"
mapfile -t gofiles < <(git ls-files -co --exclude-standard -- '*.go' 2>/dev/null ||
  find . -name '*.go' -not -path './vendor/*')
unformatted=""
((${#gofiles[@]})) && unformatted=$(gofmt -l "${gofiles[@]}")
if [[ -n $unformatted ]]; then
  echo "not gofmt'ed:" >&2
  echo "$unformatted" >&2
  false
fi

begin "go vet ./..."
$GO vet ./...

begin "go test ./..."
$GO test -count=1 ./...

# The race detector on 2 cores is slow; run it where the concurrency is.
race_pkgs=()
for d in driver pipeline sinks redact; do
  [[ -d $d ]] && race_pkgs+=("./$d/...")
done
if ((${#race_pkgs[@]})); then
  begin "go test -race ${race_pkgs[*]}"
  $GO test -count=1 -race "${race_pkgs[@]}"
fi

# The fluentd sink against the real OpenTelemetry fluentforwardreceiver,
# in its own module so the Collector's dependencies stay out of go.mod.
if [[ -d test/ffcheck ]]; then
  begin "test/ffcheck (fluentd sink vs OTel fluentforwardreceiver)"
  (cd test/ffcheck && $GO test -count=1 ./...)
fi

if [[ $FUZZTIME != 0 ]]; then
  # every `func FuzzXxx(` in a _test.go file, as "dir name"
  mapfile -t targets < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' . |
    grep -v -e '^./vendor/' -e '^./test/' |
    sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\($#\1 \2#' | sort -u)
  for tgt in "${targets[@]}"; do
    dir=${tgt% *}
    name=${tgt#* }
    begin "fuzz $name ($dir, $FUZZTIME)"
    $GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$dir"
  done
fi

if [[ ${LOGSHIP_SKIP_E2E:-} == 1 ]]; then
  echo "LOGSHIP_SKIP_E2E=1: end-to-end tests skipped"
  exit 0
fi

begin "make install"
make install

begin "e2e (real dockerd)"
e2e_flags=(-count=1 -timeout 60m -v)
[[ ${LOGSHIP_E2E_SHORT:-} == 1 ]] && e2e_flags+=(-short)
[[ -n ${LOGSHIP_E2E_RUN:-} ]] && e2e_flags+=(-run "$LOGSHIP_E2E_RUN")
LOGSHIP_E2E=1 $GO test "${e2e_flags[@]}" ./test/e2e/...
