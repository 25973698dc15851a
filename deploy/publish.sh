#!/usr/bin/env bash
# Builds the release tarball the hosts install into /opt/qwen: self-contained silo, Api and qwen
# tool (no .NET runtime needed on the hosts), plus deploy/ and docs/.
set -euo pipefail

usage() {
  cat <<'EOF_USAGE'
Usage: deploy/publish.sh [--runtime linux-x64|linux-arm64] [--version V] [--out DIR]

Writes DIR/qwen-V-RUNTIME.tar.gz (default DIR: ./artifacts; default V: git describe) and its
.sha256. Unpacked into /opt:
  /opt/qwen/silo/Qwen.Silo   /opt/qwen/api/Qwen.Api   /opt/qwen/cli/qwen
  /opt/qwen/deploy/...       /opt/qwen/docs/...
EOF_USAGE
}

runtime=linux-x64
out=artifacts
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) runtime="${2:?--runtime needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "publish.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$runtime" in linux-x64|linux-arm64) ;; *) echo "publish.sh: --runtime must be linux-x64 or linux-arm64" >&2; exit 2 ;; esac

root="$(cd "$(dirname "$0")/.." && pwd)"
[ -n "$version" ] || version="$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)"
[[ "$version" =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "publish.sh: --version '$version' must be letters, digits and . _ + -" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

for project in Silo:silo Api:api Cli:cli; do
  dotnet publish "$root/src/${project%%:*}" -c Release -r "$runtime" --self-contained -o "$stage/qwen/${project##*:}"
done
cp -r "$root/deploy" "$root/docs" "$stage/qwen/"
cp "$root/README.md" "$stage/qwen/"

tarball="$out/qwen-$version-$runtime.tar.gz"
tar -C "$stage" -czf "$tarball" qwen
(cd "$out" && sha256sum "$(basename "$tarball")" > "$(basename "$tarball").sha256")
echo "$tarball"
