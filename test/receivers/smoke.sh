#!/usr/bin/env bash
# smoke.sh — check that the receivers start.sh runs really receive: a few
# records to each over every listener, then read back from their outputs.
#
#   smoke.sh [--docker]
#
#   fluent  fwdsend.py (hand-packed msgpack): Message, Forward, PackedForward
#           and CompressedPackedForward (two gzip members), each acked; a
#           rejected chunk (fail file) gets no ack; UDP heartbeat
#   syslog  logger --rfc5424 over TCP (octet counting and LF framing) and
#           UDP; openssl s_client over TLS and mutual TLS (and mutual TLS
#           without a client cert must be refused)
#   vl      curl jsonline; logger and openssl to its syslog listeners; LogsQL
# --docker also sends through Docker's own drivers (needs dockerd and the
# test image): fluentd, syslog rfc5424 over TCP, rfc5424micro over mutual
# TLS, and UDP.
#
# Starts the receivers when they are not running (start.sh). Every message
# carries a unique marker, so it can run against receivers in use.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

docker_too=0
for a in "$@"; do
  case $a in
    --docker) docker_too=1 ;;
    *) die "unknown argument '$a' (usage: smoke.sh [--docker])" ;;
  esac
done

bash "$here/start.sh" >/dev/null
load_env || die "no $ENV_FILE after start.sh"

M=smoke-$(date +%s)-$$
WAIT=${LOGSHIP_SMOKE_WAIT:-20}
results=()

# wait_lines FILE PATTERN N WHAT: until FILE has N lines matching PATTERN
wait_lines() {
  local file=$1 pat=$2 want=$3 what=$4 n=0 i
  for ((i = 0; i < WAIT * 10; i++)); do
    n=$(grep -c -F -- "$pat" "$file" || true)
    ((n >= want)) && break
    sleep 0.1 # polling a file another process writes, bounded
  done
  ((n == want)) || die "$what: $n lines with '$pat' in $file, want $want (after ${WAIT}s)"
}

# frame MSG: RFC 6587 octet counting
frame() { printf '%d %s' "$(printf '%s' "$1" | wc -c)" "$1"; }

# tls_send ADDR FRAME [openssl s_client options]: one frame over TLS
tls_send() {
  local addr=$1 data=$2
  shift 2
  printf '%s' "$data" |
    timeout 10 openssl s_client -quiet -no_ign_eof -connect "$addr" -CAfile "$TLS_CA" -verify_return_error "$@" >/dev/null 2>&1
}

# --- fluent ------------------------------------------------------------------
for mode in message forward packed compressed; do
  python3 "$here/fwdsend.py" "$FLUENT_ADDR" --mode "$mode" --n 3 --text "$M fluent-$mode" --tag "smoke.$mode" --ack >/dev/null ||
    die "fluent: $mode mode was not acked"
done
python3 "$here/fwdsend.py" "$FLUENT_ADDR" --heartbeat >/dev/null || die "fluent: no UDP heartbeat answer"
touch "$FLUENT_FAIL"
if python3 "$here/fwdsend.py" "$FLUENT_ADDR" --mode forward --n 2 --text "$M fluent-rejected" --ack --timeout 5 >/dev/null 2>&1; then
  rm -f "$FLUENT_FAIL"
  die "fluent: a chunk was acked while $FLUENT_FAIL existed"
fi
rm -f "$FLUENT_FAIL"
wait_lines "$FLUENT_OUT" "\"$M fluent-" 12 "fluent"
grep -F -- "\"$M fluent-packed 2\"" "$FLUENT_OUT" | grep -q '"fluent.tag":"smoke.packed"' ||
  die "fluent: record without its tag: $(grep -F -- "$M fluent-packed 2" "$FLUENT_OUT")"
results+=("fluent 12 records (4 modes acked, reject not acked, heartbeat)")

# --- syslog (rsyslog) ------------------------------------------------------------
now=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
logger --rfc5424 --tcp --octet-count -n 127.0.0.1 -P "$(port_of "$SYSLOG_TCP")" -t smoke --msgid OCT \
  --sd-id 'docker@32473' --sd-param 'container="abc"' "$M syslog-octet" || die "logger tcp octet-count failed"
logger --rfc5424 --tcp -n 127.0.0.1 -P "$(port_of "$SYSLOG_TCP")" -t smoke "$M syslog-lf" || die "logger tcp failed"
logger --rfc5424 --udp -n 127.0.0.1 -P "$(port_of "$SYSLOG_UDP")" -t smoke "$M syslog-udp" || die "logger udp failed"
tls_send "$SYSLOG_TLS" "$(frame "<14>1 $now smokehost smoke 1 TLS - $M syslog-tls
second line")" || die "syslog: TLS send failed"
tls_send "$SYSLOG_MTLS" "$(frame "<14>1 $now smokehost smoke 1 MTLS - $M syslog-mtls")" \
  -cert "$TLS_CLIENT_CERT" -key "$TLS_CLIENT_KEY" || die "syslog: mutual TLS send failed"
tls_send "$SYSLOG_MTLS" "$(frame "<14>1 $now smokehost smoke 1 MTLS - $M syslog-nocert")" || true
wait_lines "$SYSLOG_OUT_JSON" "\"$M syslog-" 5 "syslog"
for input in tcp udp tls mtls; do
  grep -F -- "$M syslog-" "$SYSLOG_OUT_JSON" | grep -q "\"input\":\"$input\"" || die "syslog: nothing from input $input"
done
grep -F -- "$M syslog-tls" "$SYSLOG_OUT_JSON" | grep -q -F -- '"msg":"'"$M"' syslog-tls\nsecond line"' ||
  die "syslog: the multi-line TLS message is not verbatim: $(grep -F -- "$M syslog-tls" "$SYSLOG_OUT_JSON")"
if grep -q -F -- "$M syslog-nocert" "$SYSLOG_OUT_JSON"; then
  die "syslog: mutual TLS accepted a client without certificate"
fi
results+=("syslog 5 messages (tcp octet+lf, udp, tls, mtls; no-cert refused)")

# --- VictoriaLogs --------------------------------------------------------------
now=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
code=$(printf '{"_msg":"%s vl-json 1","_time":"%s","container_name":"smoke"}\n{"_msg":"%s vl-json 2","_time":"%s","container_name":"smoke"}\n' \
  "$M" "$now" "$M" "$now" |
  curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-ndjson' --data-binary @- \
    "$VL_URL/insert/jsonline?_stream_fields=container_name") || die "vl: jsonline POST failed"
[[ $code == 200 ]] || die "vl: jsonline POST answered $code"
logger --rfc5424 --tcp --octet-count -n 127.0.0.1 -P "$(port_of "$VL_SYSLOG_TCP")" -t smoke "$M vl-syslog-tcp" ||
  die "logger to VictoriaLogs failed"
logger --rfc5424 --udp -n 127.0.0.1 -P "$(port_of "$VL_SYSLOG_UDP")" -t smoke "$M vl-syslog-udp" ||
  die "logger udp to VictoriaLogs failed"
tls_send "$VL_SYSLOG_TLS" "$(frame "<14>1 $(date -u +%Y-%m-%dT%H:%M:%S.%6NZ) smokehost smoke 1 TLS - $M vl-syslog-tls")" ||
  die "vl: TLS syslog send failed"
n=0
for ((i = 0; i < WAIT * 10; i++)); do
  curl -sS -o /dev/null "$VL_URL/internal/force_flush" || die "vl: force_flush failed"
  n=$(curl -sS "$VL_URL/select/logsql/query" --data-urlencode "query=_time:1h \"$M\" | count() n" |
    sed -n 's/.*"n":"\([0-9]*\)".*/\1/p')
  [[ ${n:-0} -ge 5 ]] && break
  sleep 0.1 # polling VictoriaLogs, bounded
done
[[ ${n:-0} -eq 5 ]] || die "vl: LogsQL found ${n:-0} rows with $M, want 5"
results+=("vl 5 rows (jsonline x2, syslog tcp/udp/tls)")

# --- Docker's own drivers ---------------------------------------------------------
if ((docker_too)); then
  image=${LOGSHIP_E2E_IMAGE:-logship-test/busybox:latest}
  drun() {
    local what=$1 out
    shift
    out=$(docker run --rm --label logship-e2e=smoke "$@" "$image" echo "$M $what" 2>&1) ||
      die "docker run ($what) failed: $out"
  }
  drun docker-fluentd --log-driver fluentd --log-opt "fluentd-address=tcp://$FLUENT_ADDR" \
    --log-opt tag=smoke.docker --log-opt fluentd-sub-second-precision=true
  drun docker-syslog-tcp --log-driver syslog --log-opt "syslog-address=tcp://$SYSLOG_TCP" \
    --log-opt syslog-format=rfc5424
  drun docker-syslog-mtls --log-driver syslog --log-opt "syslog-address=tcp+tls://$SYSLOG_MTLS" \
    --log-opt syslog-format=rfc5424micro --log-opt "syslog-tls-ca-cert=$TLS_CA" \
    --log-opt "syslog-tls-cert=$TLS_CLIENT_CERT" --log-opt "syslog-tls-key=$TLS_CLIENT_KEY"
  drun docker-syslog-udp --log-driver syslog --log-opt "syslog-address=udp://$SYSLOG_UDP" \
    --log-opt syslog-format=rfc5424
  wait_lines "$FLUENT_OUT" "\"$M docker-fluentd\"" 1 "docker fluentd driver"
  grep -F -- "\"$M docker-fluentd\"" "$FLUENT_OUT" | grep -q '"container_name":"/' ||
    die "docker fluentd driver: no container_name: $(grep -F -- "$M docker-fluentd" "$FLUENT_OUT")"
  wait_lines "$SYSLOG_OUT_JSON" "\"$M docker-syslog-" 3 "docker syslog driver"
  results+=("docker fluentd + syslog tcp/mtls/udp drivers")
fi

joined=$(printf '%s; ' "${results[@]}")
echo "smoke.sh: ok (${joined%; })"
