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
  docker plugin disable -f "$name" >/dev/null 2>&1 || true
  docker plugin rm -f "$name" >/dev/null
fi
docker plugin create "$name" "$dir" >/dev/null
# --timeout 0: dockerd's default 30 s client timeout would also cut
# `docker logs -f` after 30 s (moby cpuguy83/docker-log-driver-test#8).
docker plugin enable --timeout 0 "$name" >/dev/null
echo "plugin $name enabled"
