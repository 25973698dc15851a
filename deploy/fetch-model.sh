#!/usr/bin/env bash
# Downloads a real Qwen chat model from the Hugging Face hub into a model directory the silos load
# (Model:Path): official safetensors converted by `qwen build-model --from-hf`, or a ready ONNX export.
# Downloads resume where they stopped, and every file is checked against the hub's checksum.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/fetch-model.sh [options] NAME

NAME (or its repository id):
  qwen2.5-0.5b-instruct       Qwen/Qwen2.5-0.5B-Instruct, official safetensors, converted here
  qwen1.5-0.5b-chat           Qwen/Qwen1.5-0.5B-Chat, official safetensors, converted here
  qwen2.5-0.5b-instruct-onnx  onnx-community/Qwen2.5-0.5B-Instruct, ready ONNX export
  qwen1.5-0.5b-chat-onnx      Xenova/Qwen1.5-0.5B-Chat, ready ONNX export

Options:
  --out DIR            model directory to write (default $QWEN_MODELS_DIR/NAME;
                       QWEN_MODELS_DIR defaults to /var/lib/qwen/models)
  --dtype int8|int4|fp32
                       weights of the converted model (safetensors names; default int8)
  --onnx-file FILE     which file under onnx/ of an export (default: its int8 one)
  --revision REV       branch, tag or commit on the hub (default main)
  --qwen COMMAND       the qwen tool for the conversion (QWEN_CLI, default /opt/qwen/cli/qwen,
                       else qwen on PATH; may be a command with arguments)
  --keep-download      keep the downloaded checkpoint (NAME.download) after converting
  --force              replace a model directory that is already complete
  -h, --help

Environment: HF_ENDPOINT (default https://huggingface.co; a mirror works too), HF_TOKEN.
Needs curl, jq, sha256sum, sha1sum.

Exit codes: 0 done, 1 failed, 2 bad arguments, 3 the hub cannot be reached (no network),
4 a downloaded file does not match the hub's checksum.
EOF
}

fail_usage() { echo "fetch-model.sh: $*" >&2; echo "Try 'fetch-model.sh --help'." >&2; exit 2; }
fail() { echo "fetch-model.sh: error: $*" >&2; exit 1; }
say() { echo "fetch-model.sh: $*" >&2; }

endpoint="${HF_ENDPOINT:-https://huggingface.co}"
endpoint="${endpoint%/}"
models_dir="${QWEN_MODELS_DIR:-/var/lib/qwen/models}"
out=""
dtype="int8"
onnx_file=""
revision="main"
qwen_cli="${QWEN_CLI:-}"
keep_download=false
force=false
name=""

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then fail_usage "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) need_value "$@"; out="$2"; shift 2 ;;
    --dtype) need_value "$@"; dtype="$2"; shift 2 ;;
    --onnx-file) need_value "$@"; onnx_file="$2"; shift 2 ;;
    --revision) need_value "$@"; revision="$2"; shift 2 ;;
    --qwen) need_value "$@"; qwen_cli="$2"; shift 2 ;;
    --keep-download) keep_download=true; shift ;;
    --force) force=true; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) fail_usage "unknown option '$1'" ;;
    *) [ -z "$name" ] || fail_usage "one NAME only ('$name' and '$1' given)"; name="$1"; shift ;;
  esac
done

[ -n "$name" ] || fail_usage "give the NAME of the model to fetch (qwen2.5-0.5b-instruct, qwen1.5-0.5b-chat, qwen2.5-0.5b-instruct-onnx, qwen1.5-0.5b-chat-onnx)"

# kind: safetensors (converted here) or onnx (used as it is).
case "$name" in
  qwen2.5-0.5b-instruct|Qwen/Qwen2.5-0.5B-Instruct)
    name=qwen2.5-0.5b-instruct; repo=Qwen/Qwen2.5-0.5B-Instruct; kind=safetensors ;;
  qwen1.5-0.5b-chat|Qwen/Qwen1.5-0.5B-Chat)
    name=qwen1.5-0.5b-chat; repo=Qwen/Qwen1.5-0.5B-Chat; kind=safetensors ;;
  qwen2.5-0.5b-instruct-onnx|onnx-community/Qwen2.5-0.5B-Instruct)
    name=qwen2.5-0.5b-instruct-onnx; repo=onnx-community/Qwen2.5-0.5B-Instruct; kind=onnx
    default_onnx=model_int8.onnx ;;
  qwen1.5-0.5b-chat-onnx|Xenova/Qwen1.5-0.5B-Chat)
    name=qwen1.5-0.5b-chat-onnx; repo=Xenova/Qwen1.5-0.5B-Chat; kind=onnx
    default_onnx=decoder_model_merged_quantized.onnx ;;
  *) fail_usage "unknown model '$name': choose qwen2.5-0.5b-instruct, qwen1.5-0.5b-chat, qwen2.5-0.5b-instruct-onnx or qwen1.5-0.5b-chat-onnx" ;;
esac

case "$dtype" in int8|int4|fp32) ;; *) fail_usage "--dtype must be int8, int4 or fp32, not '$dtype'" ;; esac
[ "$kind" = onnx ] || [ -z "$onnx_file" ] || fail_usage "--onnx-file applies to the ONNX exports only ($name is converted from safetensors)"
[ "$kind" = safetensors ] || [ "$dtype" = int8 ] || fail_usage "--dtype applies to converted models only; choose an export's weights with --onnx-file"
[ -z "$onnx_file" ] || [[ "$onnx_file" =~ ^[A-Za-z0-9._-]+\.onnx$ ]] || fail_usage "--onnx-file takes a file name under onnx/ ending in .onnx, not '$onnx_file'"
[[ "$revision" =~ ^[A-Za-z0-9._/-]+$ ]] || fail_usage "--revision '$revision' has characters a hub revision cannot have"
[ -n "$out" ] || out="$models_dir/$name"
out="${out%/}"

for tool in curl jq sha256sum sha1sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (apt-get install curl jq coreutils)"
done

if [ "$kind" = safetensors ]; then
  if [ -z "$qwen_cli" ]; then
    if [ -x /opt/qwen/cli/qwen ]; then qwen_cli=/opt/qwen/cli/qwen
    elif command -v qwen >/dev/null 2>&1; then qwen_cli=qwen
    else fail_usage "converting $repo needs the qwen tool: it is not at /opt/qwen/cli/qwen nor on PATH; give --qwen COMMAND"
    fi
  fi
  read -r -a qwen_command <<< "$qwen_cli"
fi

is_complete_model() { [ -f "$1/config.json" ] && [ -f "$1/tokenizer.json" ] && compgen -G "$1/onnx/*.onnx" >/dev/null; }
if is_complete_model "$out" && [ "$force" = false ]; then
  say "$out already holds a model; nothing to do (--force fetches it again)"
  echo "$out"
  exit 0
fi

auth=()
[ -z "${HF_TOKEN:-}" ] || auth=(-H "Authorization: Bearer $HF_TOKEN")

# curl's exit codes for "no route to the hub" as opposed to "the hub answered".
network_failure() {
  local code="$1" what="$2"
  case "$code" in
    5|6|7|28|35|45|52|55|56)
      echo "fetch-model.sh: error: cannot reach the Hugging Face hub at $endpoint ($what; curl exit $code)." >&2
      echo "This machine has no network access to the hub. Fetch the model on a machine that has, then copy" >&2
      echo "the model directory here (e.g. rsync -a $out/ host:$out/), or set HF_ENDPOINT to a reachable mirror." >&2
      exit 3 ;;
  esac
}

download_dir="$out.download"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The file listing carries every file's size and checksum: sha256 for files stored in LFS,
# the git blob id (sha1 of "blob <size>\0" + content) for small files kept in git itself.
listing="$scratch/listing.json"
say "listing $repo@$revision on $endpoint"
set +e
http_code=$(curl -sS --connect-timeout 15 --max-time 120 "${auth[@]}" -o "$listing" -w '%{http_code}' \
  "$endpoint/api/models/$repo/tree/$revision?recursive=true" 2>"$scratch/curl-error")
curl_exit=$?
set -e
curl_message=$(tr -d '\n' < "$scratch/curl-error")
[ "$curl_exit" = 0 ] || network_failure "$curl_exit" "$curl_message"
[ "$curl_exit" = 0 ] || fail "listing $repo failed: $curl_message (curl exit $curl_exit)"
case "$http_code" in
  200) ;;
  401|403) fail "the hub refused to list $repo (HTTP $http_code): set HF_TOKEN to a token that may read it" ;;
  404) fail "the hub has no $repo at revision '$revision' (HTTP 404)" ;;
  *) fail "the hub answered HTTP $http_code when listing $repo" ;;
esac
jq -e 'type == "array"' "$listing" >/dev/null 2>&1 || fail "the hub's listing of $repo is not a JSON file list"

# Which files make the model directory.
if [ "$kind" = onnx ]; then
  [ -n "$onnx_file" ] || onnx_file="$default_onnx"
  if ! jq -e --arg p "onnx/$onnx_file" 'any(.[]; .path == $p)' "$listing" >/dev/null; then
    available=$(jq -r '[.[] | select(.path | test("^onnx/[^/]+\\.onnx$")) | .path | ltrimstr("onnx/")] | join(", ")' "$listing")
    fail_usage "$repo has no onnx/$onnx_file; it has: ${available:-no .onnx files}"
  fi
  selection=$(jq -c --arg onnx "onnx/$onnx_file" '[.[] | select(.type == "file") | select(
      (.path | IN("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"))
      or .path == $onnx or (.path | startswith($onnx + "_data")) or (.path | startswith($onnx + ".data")))]' "$listing")
else
  selection=$(jq -c '[.[] | select(.type == "file") | select(.path | test("^[^/]+\\.(json|safetensors)$|^merges\\.txt$"))]' "$listing")
fi
for required in config.json tokenizer.json; do
  jq -e --arg p "$required" 'any(.[]; .path == $p)' <<< "$selection" >/dev/null || fail "$repo has no $required"
done
if [ "$kind" = safetensors ]; then
  jq -e 'any(.[]; .path | endswith(".safetensors"))' <<< "$selection" >/dev/null || fail "$repo has no .safetensors weights"
fi

mkdir -p "$download_dir"
count=$(jq length <<< "$selection")
total_bytes=$(jq '[.[] | (.lfs.size // .size)] | add' <<< "$selection")
free_bytes=$(( $(df -Pk "$download_dir" | awk 'NR == 2 { print $4 }') * 1024 ))
[ "$free_bytes" -ge "$total_bytes" ] || fail "$repo needs $((total_bytes / 1048576)) MiB; $download_dir has $((free_bytes / 1048576)) MiB free"
say "$count files, $((total_bytes / 1048576)) MiB"

checksum_of() {
  local file="$1" algorithm="$2" size="$3"
  if [ "$algorithm" = sha256 ]; then
    sha256sum "$file" | cut -d' ' -f1
  else
    { printf 'blob %d\0' "$size"; cat "$file"; } | sha1sum | cut -d' ' -f1
  fi
}

progress=(--no-progress-meter)
[ -t 2 ] && progress=(--progress-bar)

index=0
while IFS=$'\t' read -r path size algorithm expected; do
  index=$((index + 1))
  target="$download_dir/$path"
  part="$target.part"
  mkdir -p "$(dirname "$target")"
  if [ -f "$target" ] && [ "$(stat -c %s "$target")" = "$size" ] \
      && [ "$(checksum_of "$target" "$algorithm" "$size")" = "$expected" ]; then
    say "[$index/$count] $path: already downloaded and verified"
    continue
  fi
  rm -f "$target"
  if [ -f "$part" ] && [ "$(stat -c %s "$part")" -gt "$size" ]; then rm -f "$part"; fi
  have=0
  [ -f "$part" ] && have=$(stat -c %s "$part")
  if [ "$have" -gt 0 ]; then
    say "[$index/$count] $path: resuming at $((have / 1048576)) of $((size / 1048576)) MiB"
  else
    say "[$index/$count] $path: $((size / 1048576)) MiB"
  fi
  if [ "$have" -lt "$size" ] || [ "$size" = 0 ]; then
    set +e
    curl -fL --connect-timeout 15 --retry 5 --retry-delay 3 -C - "${progress[@]}" "${auth[@]}" \
      -o "$part" "$endpoint/$repo/resolve/$revision/$path"
    curl_exit=$?
    set -e
    [ "$curl_exit" = 0 ] || network_failure "$curl_exit" "downloading $path"
    [ "$curl_exit" = 0 ] || fail "downloading $path failed (curl exit $curl_exit); run again to resume"
  fi
  got=$(stat -c %s "$part")
  [ "$got" = "$size" ] || fail "$path has $got bytes, the hub lists $size; run again to resume"
  actual=$(checksum_of "$part" "$algorithm" "$size")
  if [ "$actual" != "$expected" ]; then
    rm -f "$part"
    echo "fetch-model.sh: error: $path does not match the hub's checksum ($algorithm $actual, expected $expected);" >&2
    echo "the damaged file was deleted: run again to download it afresh." >&2
    exit 4
  fi
  mv "$part" "$target"
  say "[$index/$count] $path: $algorithm verified"
done < <(jq -r '.[] | if .lfs then [.path, .lfs.size, "sha256", .lfs.oid] else [.path, .size, "git-sha1", .oid] end | @tsv' <<< "$selection")

staging="$out.partial"
rm -rf "$staging"
if [ "$kind" = onnx ]; then
  mv "$download_dir" "$staging"
else
  say "converting to an optimized $dtype ONNX model: ${qwen_command[*]} build-model --from-hf $download_dir --dtype $dtype --out $staging"
  "${qwen_command[@]}" build-model --from-hf "$download_dir" --dtype "$dtype" --out "$staging" \
    || fail "the conversion failed (the download stays in $download_dir; run again to retry)"
  [ "$keep_download" = true ] || rm -rf "$download_dir"
fi
is_complete_model "$staging" || fail "$staging is not a complete model directory (config.json, tokenizer.json, onnx/*.onnx)"
rm -rf "$out"
mv "$staging" "$out"
say "done: $out (set Model__Path=$out)"
echo "$out"
