# lib.sh: shared by start.sh, stop.sh and smoke.sh (sourced, not run).
# The receivers, their binaries and their pid files:
#   fluent  $CACHE/bin/ffrecv         RUN_DIR/ffrecv.pid
#   syslog  rsyslogd (Debian package) RUN_DIR/rsyslogd.pid
#   vl      $CACHE/bin/victoria-logs  RUN_DIR/victoria-logs.pid

CACHE=${LOGSHIP_TEST_CACHE:-/var/cache/logship-test}
ENV_FILE=$CACHE/receivers.env
RUNS=$CACHE/receivers
TLS_DIR=$CACHE/tls
WAIT_S=${LOGSHIP_RECV_WAIT:-30}
ALL_RECEIVERS=(fluent syslog vl)

die() { echo "${0##*/}: $*" >&2; exit 1; }
note() { echo "${0##*/}: $*" >&2; }

# proc_name RECEIVER: the process's comm (pid file is RUN_DIR/<comm>.pid)
proc_name() {
  case $1 in
    fluent) echo ffrecv ;;
    syslog) echo rsyslogd ;;
    vl) echo victoria-logs ;;
    *) die "unknown receiver '$1' (want: ${ALL_RECEIVERS[*]})" ;;
  esac
}

# alive PID COMM: PID runs (not a zombie) and is COMM
alive() {
  local pid=$1 comm=$2 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# gone PID: no such process, or a zombie
gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat:0:1} == Z || ${stat:0:1} == X ]]
}

# pid_of RECEIVER RUN_DIR: prints the receiver's pid if it is running
pid_of() {
  local comm pid
  comm=$(proc_name "$1")
  pid=$(cat "$2/$comm.pid" 2>/dev/null) || return 1
  alive "$pid" "$comm" || return 1
  echo "$pid"
}

# socket inodes bound to PORT: tcp in LISTEN state, or udp
_inodes() {
  local proto=$1 hex files=()
  hex=$(printf ':%04X' "$2")
  for f in "/proc/net/$proto" "/proc/net/${proto}6"; do
    [[ -r $f ]] && files+=("$f")
  done
  awk -v h="$hex" -v tcp="$([[ $proto == tcp ]] && echo 1)" \
    'FNR > 1 && substr($2, length($2) - 4) == h && (!tcp || $4 == "0A") { print $10 }' "${files[@]}"
}

# port_busy tcp|udp PORT: something listens there (tcp) or is bound (udp)
port_busy() {
  [[ -n $(_inodes "$1" "$2") ]]
}

# pid_listens PID tcp|udp PORT: that socket belongs to PID
pid_listens() {
  local pid=$1 ino link
  for ino in $(_inodes "$2" "$3"); do
    for link in /proc/"$pid"/fd/*; do
      [[ $(readlink "$link" 2>/dev/null) == "socket:[$ino]" ]] && return 0
    done
  done
  return 1
}

# free_port DEFAULT [udp-too]: DEFAULT if free (tcp, and udp if asked),
# else some other free port from 20000-29999
free_port() {
  local p=$1 both=${2:-} i
  for ((i = 0; i < 200; i++)); do
    if ! port_busy tcp "$p" && { [[ -z $both ]] || ! port_busy udp "$p"; }; then
      echo "$p"
      return 0
    fi
    p=$((20000 + RANDOM % 10000))
  done
  die "no free loopback port found"
}

# load_env: reads $ENV_FILE into shell variables (the values hold no spaces)
load_env() {
  [[ -f $ENV_FILE ]] || return 1
  local k v
  while IFS='=' read -r k v; do
    [[ $k =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    printf -v "$k" '%s' "$v"
  done <"$ENV_FILE"
}

# host:port -> port
port_of() { echo "${1##*:}"; }
