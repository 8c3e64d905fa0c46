#!/usr/bin/env bash
# install-plugin.sh NAME DIR — (re)create the managed plugin NAME from DIR
# (config.json + rootfs/) and enable it. An existing plugin of that name is
# force-disabled and removed first; its data (rings, stream state) lives in
# the host mount and survives.
set -euo pipefail
name=${1:?plugin name}
dir=${2:?plugin folder}
[[ $name == *:* ]] || name=$name:latest

if docker plugin inspect "$name" >/dev/null 2>&1; then
  # Containers logging through the old plugin lose their FIFOs with it (the
  # new plugin has a new id) and block once dockerd's buffer is full.
  busy=$(docker ps --format '{{.ID}} {{.Names}}' | while read -r cid cname; do
    drv=$(docker inspect -f '{{.HostConfig.LogConfig.Type}}' "$cid" 2>/dev/null || true)
    [[ $drv == "$name" || $drv == "${name%:latest}" ]] && echo "$cname"
  done || true)
  if [[ -n $busy && ${FORCE:-} != 1 ]]; then
    echo "install-plugin.sh: running containers log through $name: $(echo $busy | tr '\n' ' ')" >&2
    echo "  stop them first, or run with FORCE=1 (their logs after this point are lost)," >&2
    echo "  or use docker plugin upgrade (see README), which keeps them running." >&2
    exit 1
  fi
  docker plugin disable -f "$name" >/dev/null 2>&1 || true
  docker plugin rm -f "$name" >/dev/null
fi
docker plugin create "$name" "$dir" >/dev/null
# --timeout 0: dockerd's default 30 s client timeout would also cut
# `docker logs -f` after 30 s (moby cpuguy83/docker-log-driver-test#8).
docker plugin enable --timeout 0 "$name" >/dev/null
echo "plugin $name enabled"
