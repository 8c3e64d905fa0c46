#!/usr/bin/env bash
# start.sh — start the real log receivers of logship's delivery tests, each
# as a detached process of its own, and wait until they accept connections.
#
#   start.sh [--fresh] [RECEIVER...]     RECEIVER: fluent syslog vl (default: all)
#
#   fluent  OpenTelemetry Collector fluentforwardreceiver ($CACHE/bin/ffrecv):
#           Fluentd forward over TCP, UDP heartbeat on the same port; records
#           -> FLUENT_OUT, one JSON line each
#   syslog  rsyslogd (Debian): RFC 5424/3164 over TCP (octet counting or LF),
#           TLS (anonymous), mutual TLS, UDP -> SYSLOG_OUT_JSON, SYSLOG_OUT_RAW
#   vl      VictoriaLogs ($CACHE/bin/victoria-logs): HTTP ingestion (jsonline,
#           Elasticsearch bulk, Loki, Splunk HEC, OTLP) at VL_URL, syslog at
#           VL_SYSLOG_*; query with LogsQL (VL_URL/select/logsql/query)
#
# Addresses and paths go to $CACHE/receivers.env (KEY=value lines, shell and
# Go readable; test/e2e/receivers_test.go reads it). Fixed ports, so Docker's
# own fluentd/syslog drivers can be pointed at them by hand too:
#   FLUENT_ADDR   127.0.0.1:24224  (tcp + udp)   LOGSHIP_RECV_FLUENT_PORT
#   SYSLOG_TCP    127.0.0.1:15514                LOGSHIP_RECV_SYSLOG_PORT
#   SYSLOG_UDP    127.0.0.1:15514                (same variable)
#   SYSLOG_TLS    127.0.0.1:16514                LOGSHIP_RECV_SYSLOG_TLS_PORT
#   SYSLOG_MTLS   127.0.0.1:16515                LOGSHIP_RECV_SYSLOG_MTLS_PORT
#   VL_URL        http://127.0.0.1:19428         LOGSHIP_RECV_VL_PORT
#   VL_SYSLOG_TCP 127.0.0.1:15601 (tcp + udp)    LOGSHIP_RECV_VL_SYSLOG_PORT
#   VL_SYSLOG_TLS 127.0.0.1:16601                LOGSHIP_RECV_VL_SYSLOG_TLS_PORT
# A port that something else already uses is replaced by a free one (noted on
# stderr); always read the env file rather than assuming the defaults.
#
# Without --fresh, receivers that already run (per the env file's run folder)
# are left alone and only the missing ones are started, on the ports the env
# file names: that is how a test restarts one receiver after `stop.sh --kill`.
# With --fresh, or when there is no env file (stop.sh without arguments
# removes it), everything is stopped and a new run folder
# $CACHE/receivers/run-<time>/ gets fresh configs, outputs and storage (the 3
# previous run folders are kept for post-mortems).
#
# Needs test/setup.sh to have run (binaries, rsyslog packages, TLS certs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

fresh=0
names=()
for a in "$@"; do
  case $a in
    --fresh) fresh=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d'
      exit 0
      ;;
    fluent | syslog | vl) names+=("$a") ;;
    *) die "unknown argument '$a' (usage: start.sh [--fresh] [fluent|syslog|vl]...)" ;;
  esac
done
((${#names[@]})) || names=("${ALL_RECEIVERS[@]}")

FFRECV=$CACHE/bin/ffrecv
VLBIN=$CACHE/bin/victoria-logs
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[[ -x $FFRECV ]] || die "$FFRECV missing; run: bash test/setup.sh"
[[ -x $VLBIN ]] || die "$VLBIN missing; run: bash test/setup.sh"
[[ -x $RSYSLOGD ]] || die "rsyslogd missing (packages rsyslog rsyslog-gnutls rsyslog-openssl); run: bash test/setup.sh"
for f in ca.pem server.pem server.key client.pem client.key; do
  [[ -s $TLS_DIR/$f ]] || die "$TLS_DIR/$f missing; run: bash test/setup.sh"
done
[[ $CACHE != *[[:space:]]* ]] || die "LOGSHIP_TEST_CACHE must not contain white space: '$CACHE'"

# --- a new run folder and env file, unless one is in use -------------------
RECV_RUN_DIR=""
if ((!fresh)); then
  load_env || true
fi
if ((fresh)) || [[ -z $RECV_RUN_DIR || ! -d $RECV_RUN_DIR ]]; then
  bash "$here/stop.sh" >/dev/null
  names=("${ALL_RECEIVERS[@]}")
  mkdir -p "$RUNS"
  RECV_RUN_DIR=$(mktemp -d "$RUNS/run-$(date +%Y%m%d-%H%M%S)-XXXX")
  chmod 755 "$RECV_RUN_DIR"
  # keep the 3 newest earlier runs
  mapfile -t old < <(find "$RUNS" -mindepth 1 -maxdepth 1 -type d -name 'run-*' ! -path "$RECV_RUN_DIR" | sort | head -n -3)
  ((${#old[@]})) && rm -rf "${old[@]}"
  ln -sfn "$RECV_RUN_DIR" "$RUNS/current"

  fp=$(free_port "${LOGSHIP_RECV_FLUENT_PORT:-24224}" udp)
  sp=$(free_port "${LOGSHIP_RECV_SYSLOG_PORT:-15514}" udp)
  stp=$(free_port "${LOGSHIP_RECV_SYSLOG_TLS_PORT:-16514}")
  smp=$(free_port "${LOGSHIP_RECV_SYSLOG_MTLS_PORT:-16515}")
  vp=$(free_port "${LOGSHIP_RECV_VL_PORT:-19428}")
  vsp=$(free_port "${LOGSHIP_RECV_VL_SYSLOG_PORT:-15601}" udp)
  vstp=$(free_port "${LOGSHIP_RECV_VL_SYSLOG_TLS_PORT:-16601}")
  used=("$fp" "$sp" "$stp" "$smp" "$vp" "$vsp" "$vstp")
  [[ $(printf '%s\n' "${used[@]}" | sort -u | wc -l) -eq ${#used[@]} ]] ||
    die "port clash among ${used[*]}; set the LOGSHIP_RECV_*_PORT variables"
  [[ $fp == "${LOGSHIP_RECV_FLUENT_PORT:-24224}" ]] || note "port ${LOGSHIP_RECV_FLUENT_PORT:-24224} is busy; fluent forward on $fp"
  [[ $sp == "${LOGSHIP_RECV_SYSLOG_PORT:-15514}" ]] || note "port ${LOGSHIP_RECV_SYSLOG_PORT:-15514} is busy; syslog tcp/udp on $sp"

  R=$RECV_RUN_DIR
  tmp_env=$(mktemp "$CACHE/receivers.env.XXXX")
  cat >"$tmp_env" <<EOF
RECV_RUN_DIR=$R
FLUENT_ADDR=127.0.0.1:$fp
FLUENT_OUT=$R/fluent.jsonl
FLUENT_FAIL=$R/fluent.fail
FLUENT_DELAY=$R/fluent.delay
FLUENT_LOG=$R/ffrecv.log
SYSLOG_TCP=127.0.0.1:$sp
SYSLOG_UDP=127.0.0.1:$sp
SYSLOG_TLS=127.0.0.1:$stp
SYSLOG_MTLS=127.0.0.1:$smp
SYSLOG_OUT_JSON=$R/syslog.jsonl
SYSLOG_OUT_RAW=$R/syslog-raw.log
SYSLOG_LOG=$R/rsyslogd.log
TLS_CA=$TLS_DIR/ca.pem
TLS_SERVER_CERT=$TLS_DIR/server.pem
TLS_SERVER_KEY=$TLS_DIR/server.key
TLS_CLIENT_CERT=$TLS_DIR/client.pem
TLS_CLIENT_KEY=$TLS_DIR/client.key
VL_URL=http://127.0.0.1:$vp
VL_SYSLOG_TCP=127.0.0.1:$vsp
VL_SYSLOG_UDP=127.0.0.1:$vsp
VL_SYSLOG_TLS=127.0.0.1:$vstp
VL_DATA=$R/vl-data
VL_LOG=$R/victoria-logs.log
EOF
  chmod 644 "$tmp_env"
  mv -f "$tmp_env" "$ENV_FILE"
  load_env || die "cannot read back $ENV_FILE"

  subst=(-e "s#@RUN_DIR@#$R#g"
    -e "s#@TLS_CA@#$TLS_CA#g" -e "s#@TLS_CERT@#$TLS_SERVER_CERT#g" -e "s#@TLS_KEY@#$TLS_SERVER_KEY#g"
    -e "s#@TCP_PORT@#$sp#g" -e "s#@UDP_PORT@#$sp#g" -e "s#@TLS_PORT@#$stp#g" -e "s#@MTLS_PORT@#$smp#g"
    -e "s#@FLUENT_ADDR@#$FLUENT_ADDR#g" -e "s#@FLUENT_OUT@#$FLUENT_OUT#g"
    -e "s#@FLUENT_FAIL@#$FLUENT_FAIL#g" -e "s#@FLUENT_DELAY@#$FLUENT_DELAY#g")
  sed "${subst[@]}" "$here/rsyslog.conf.tmpl" >"$R/rsyslog.conf"
  sed "${subst[@]}" "$here/ffrecv.yaml.tmpl" >"$R/ffrecv.yaml"
  mkdir -p "$R/rsyslog-work" "$VL_DATA"
  : >"$FLUENT_OUT"
  : >"$SYSLOG_OUT_JSON"
  : >"$SYSLOG_OUT_RAW"
  "$RSYSLOGD" -N1 -f "$R/rsyslog.conf" >"$R/rsyslog-check.log" 2>&1 ||
    die "rsyslogd -N1 rejects $R/rsyslog.conf: $(tail -n 5 "$R/rsyslog-check.log")"
fi

# --- start what is not running ----------------------------------------------

# launch RECEIVER CMD...: start CMD detached (own session, stdin /dev/null,
# output appended to RUN_DIR/<comm>.log) and record its pid
launch() {
  local comm
  comm=$(proc_name "$1")
  shift
  rm -f "$RECV_RUN_DIR/$comm.pid"
  setsid "$@" >>"$RECV_RUN_DIR/$comm.log" 2>&1 </dev/null &
  echo "$!" >"$RECV_RUN_DIR/$comm.pid"
}

# wait_ready RECEIVER PROTO:PORT...: until the process owns every socket
wait_ready() {
  local name=$1 comm pid ok i s
  shift
  comm=$(proc_name "$name")
  pid=$(cat "$RECV_RUN_DIR/$comm.pid")
  for ((i = 0; i < WAIT_S * 20; i++)); do
    # (gone, not alive: right after the fork the child is still "bash")
    if gone "$pid"; then
      die "$name ($comm) exited at start; last lines of $RECV_RUN_DIR/$comm.log:
$(tail -n 15 "$RECV_RUN_DIR/$comm.log" 2>/dev/null)"
    fi
    ok=1
    for s in "$@"; do
      pid_listens "$pid" "${s%%:*}" "${s#*:}" || { ok=0; break; }
    done
    ((ok)) && return 0
    sleep 0.05 # polling another process's listeners, bounded by WAIT_S
  done
  die "$name ($comm, pid $pid) not listening on $* within ${WAIT_S}s; see $RECV_RUN_DIR/$comm.log"
}

# sockets RECEIVER: what it must listen on
sockets() {
  case $1 in
    fluent) echo "tcp:$(port_of "$FLUENT_ADDR") udp:$(port_of "$FLUENT_ADDR")" ;;
    syslog) echo "tcp:$(port_of "$SYSLOG_TCP") tcp:$(port_of "$SYSLOG_TLS") tcp:$(port_of "$SYSLOG_MTLS") udp:$(port_of "$SYSLOG_UDP")" ;;
    vl) echo "tcp:$(port_of "$VL_URL") tcp:$(port_of "$VL_SYSLOG_TCP") tcp:$(port_of "$VL_SYSLOG_TLS") udp:$(port_of "$VL_SYSLOG_UDP")" ;;
  esac
}

report=()
for n in "${names[@]}"; do
  read -r -a socks <<<"$(sockets "$n")"
  if pid=$(pid_of "$n" "$RECV_RUN_DIR"); then
    wait_ready "$n" "${socks[@]}" # running: make sure it is (still) listening
    report+=("$n running")
    continue
  fi
  for s in "${socks[@]}"; do
    ! port_busy "${s%%:*}" "${s#*:}" ||
      die "cannot start $n: ${s%%:*} port ${s#*:} is taken by another process (stop it, or: start.sh --fresh)"
  done
  case $n in
    fluent)
      launch fluent "$FFRECV" --config="$RECV_RUN_DIR/ffrecv.yaml"
      ;;
    syslog)
      rm -f "$RECV_RUN_DIR/rsyslog-work/rsyslogd.pid"
      launch syslog "$RSYSLOGD" -n -f "$RECV_RUN_DIR/rsyslog.conf" -i "$RECV_RUN_DIR/rsyslog-work/rsyslogd.pid"
      ;;
    vl)
      launch vl "$VLBIN" -storageDataPath="$VL_DATA" -httpListenAddr="127.0.0.1:$(port_of "$VL_URL")" \
        -retentionPeriod=100y \
        -syslog.listenAddr.tcp="$VL_SYSLOG_TCP,$VL_SYSLOG_TLS" -syslog.tls=false,true \
        -syslog.tlsCertFile=",$TLS_SERVER_CERT" -syslog.tlsKeyFile=",$TLS_SERVER_KEY" \
        -syslog.listenAddr.udp="$VL_SYSLOG_UDP"
      ;;
  esac
  wait_ready "$n" "${socks[@]}"
  report+=("$n started")
done

joined=$(printf '%s, ' "${report[@]}")
echo "start.sh: ok (${joined%, }; env: $ENV_FILE)"
