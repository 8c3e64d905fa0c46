#!/usr/bin/env bash
# demo.sh [PLUGIN] — run a small container logging through the plugin
# (default logship:latest, installed by `make install`) and show what
# `docker logs` returns. `make demo` runs it. KEEP=1 keeps the container.
set -euo pipefail

plugin=${1:-logship:latest}
image=${LOGSHIP_E2E_IMAGE:-logship-test/busybox:latest}
name=logship-demo

die() { echo "demo.sh: $*" >&2; exit 1; }

docker plugin inspect -f '{{.Enabled}}' "$plugin" 2>/dev/null | grep -qx true ||
  die "plugin $plugin is not installed and enabled (run: make install)"
docker image inspect "$image" >/dev/null 2>&1 || die "image $image missing (run: bash test/setup.sh)"

# What the demo container writes: JSON with request ids, plain text, a
# key=value line, a line longer than Docker's 16 KiB chunks, on both streams.
script=$(cat <<'EOF'
echo '{"level":"info","msg":"GET /","request_id":"7d0c5b1e-3f2a-4c8b-9e61-2a4f0b9c1d3e","status":200}'
echo 'plain text: server listening on :8080'
echo 'request_id=req-2f9a method=POST path=/orders status=201'
echo '{"level":"warn","msg":"slow upstream","request_id":"7d0c5b1e-3f2a-4c8b-9e61-2a4f0b9c1d3e","ms":1840}' >&2
echo 'login user=alice password=hunter2'
yes 0123456789 | tr -d '\n' | head -c 20000; echo
echo 'plain text on stderr: retrying in 1s' >&2
echo '{"level":"info","msg":"done"}'
EOF
)

docker rm -f "$name" >/dev/null 2>&1 || true
echo "== docker run --log-driver $plugin --name $name $image"
docker run -d --name "$name" --label logship-demo=1 \
  --log-driver "$plugin" --log-opt tag='{{.Name}}' \
  "$image" sh -c "$script" >/dev/null
code=$(timeout 60 docker wait "$name") || die "the demo container did not exit within 60 s"
echo "   exited with $code"

# long lines are shortened for the terminal (their length is shown)
# (with a second argument, the first word is a timestamp and not counted)
abbrev() {
  awk -v tag="$1" -v ts="${2:-}" '{
    pre = ""; line = $0
    if (ts != "") { i = index(line, " "); pre = substr(line, 1, i); line = substr(line, i + 1) }
    if (length(line) > 160) printf "%s %s%s… (%d chars, one line)\n", tag, pre, substr(line, 1, 60), length(line)
    else printf "%s %s%s\n", tag, pre, line
  }'
}

echo
echo "== docker logs $name   (stdout, then stderr)"
docker logs "$name" 2>/dev/null | abbrev "out |"
docker logs "$name" 2>&1 >/dev/null | abbrev "err |"
echo
echo "== docker logs --tail 3 -t $name   (both streams)"
docker logs --tail 3 -t "$name" 2>&1 | abbrev "    " ts
echo
echo "== log config: $(docker inspect -f '{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}' "$name")"

cat <<EOF

What to look at:
  - JSON lines come back byte for byte, request_id included; stdout and
    stderr stay apart (the CLI prints them on its own stdout and stderr).
  - the 20000-char line is ONE line: dockerd sent it as 16 KiB chunks and
    the plugin put it back together.
  - the password= line shows what redaction does with a secret.
  - --tail 3 returns the last three entries across both streams.
  - the plugin's own log is in dockerd's log (tagged plugin=<id>); its data
    is below /var/lib/docker/logship on the host.
EOF

if [[ ${KEEP:-} == 1 ]]; then
  echo
  echo "(container kept: docker logs $name; remove it with: docker rm -f $name)"
else
  docker rm -f "$name" >/dev/null
fi
