#!/usr/bin/env bash
# stop.sh — stop the receivers start.sh started, and wait until they are gone.
#
#   stop.sh [--kill] [RECEIVER...]     RECEIVER: fluent syslog vl
#
# Without RECEIVER: stops every receiver of every run folder under
# $CACHE/receivers and removes $CACHE/receivers.env, so the next start.sh
# begins a fresh run (the run folders stay for post-mortems).
# With RECEIVER: stops only those and keeps the env file, so `start.sh
# RECEIVER` brings them back on the same ports and files (outage tests).
# --kill sends SIGKILL (a crash: nothing flushed, no goodbye to clients);
# otherwise SIGTERM, escalated to SIGKILL after 20 s.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

sig=TERM
names=()
for a in "$@"; do
  case $a in
    --kill | -9) sig=KILL ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d'
      exit 0
      ;;
    fluent | syslog | vl) names+=("$a") ;;
    *) die "unknown argument '$a' (usage: stop.sh [--kill] [fluent|syslog|vl]...)" ;;
  esac
done

# pid files to act on
pidfiles=()
if ((${#names[@]})); then
  RECV_RUN_DIR=""
  load_env || die "no $ENV_FILE: nothing started"
  [[ -d $RECV_RUN_DIR ]] || die "run folder $RECV_RUN_DIR is gone"
  for n in "${names[@]}"; do
    pidfiles+=("$RECV_RUN_DIR/$(proc_name "$n").pid")
  done
else
  for n in "${ALL_RECEIVERS[@]}"; do
    comm=$(proc_name "$n")
    for f in "$RUNS"/run-*/"$comm.pid"; do
      [[ -f $f ]] && pidfiles+=("$f")
    done
  done
fi

stopped=()
for f in "${pidfiles[@]}"; do
  comm=$(basename "$f" .pid)
  pid=$(cat "$f" 2>/dev/null || true)
  if ! alive "$pid" "$comm"; then
    rm -f "$f"
    continue
  fi
  kill -s "$sig" "$pid" 2>/dev/null || true
  s=$sig
  for ((i = 0; ; i++)); do
    alive "$pid" "$comm" || break
    if ((i == 400)) && [[ $s == TERM ]]; then
      note "$comm ($pid) still running 20s after SIGTERM; sending SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
      s=KILL
    fi
    ((i < 1200)) || die "$comm ($pid) still running 60s after SIG$sig"
    sleep 0.05 # waiting for another process to exit, bounded
  done
  rm -f "$f"
  stopped+=("$comm")
done

if ((!${#names[@]})); then
  rm -f "$ENV_FILE"
fi
if ((${#stopped[@]})); then
  echo "stop.sh: stopped (SIG$sig) ${stopped[*]}"
else
  echo "stop.sh: nothing was running"
fi
