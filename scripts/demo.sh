#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's first command: builds hf-hubd, seeds a temporary Hub with a sample model, starts
# it and shows what it answers. On a terminal it keeps serving until Enter or Ctrl-C; otherwise it
# stops after the examples. DEMO_SIZE_MB sets the size of the sample weights (default 64).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cmake >/dev/null || ! command -v ninja >/dev/null || [ ! -f /usr/include/httplib.h ]; then
  echo "== installing dependencies (first run)"
  scripts/install-deps.sh
fi
echo "== building"
scripts/build.sh >/dev/null

WORK=$(mktemp -d /tmp/hf-demo.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== seeding a sample model repo (models/demo/tiny-model) in $WORK/root"
python3 scripts/make_sample_model.py "$WORK/model" --size-mb "${DEMO_SIZE_MB:-64}"
build/bin/hf-hubd import --root "$WORK/root" --repo models/demo/tiny-model -m "Add demo model" "$WORK/model"

TOKEN=hf_demo_write_token
build/bin/hf-hubd serve --root "$WORK/root" --token "$TOKEN=demo:write" >"$WORK/url" 2>"$WORK/log" &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -n1 "$WORK/url")
echo "== hf-hubd is serving at $URL (write token for user 'demo': $TOKEN)"

run() {
  echo
  echo "\$ $*"
  eval "$@"
  echo
}
run "curl -s $URL/api/models/demo/tiny-model | python3 -m json.tool | head -n 20"
run "curl -s '$URL/api/models/demo/tiny-model/tree/main' | python3 -m json.tool"
run "curl -s $URL/demo/tiny-model/resolve/main/config.json"
run "curl -sI $URL/demo/tiny-model/resolve/main/model.safetensors"
run "curl -sL -r 0-7 $URL/demo/tiny-model/resolve/main/model.safetensors | od -An -tu8"
run "curl -s $URL/_hubd/stats"

cat <<MSG
== try it yourself
  export HF_ENDPOINT=$URL HF_TOKEN=$TOKEN
  curl -s \$HF_ENDPOINT/api/whoami-v2 -H "Authorization: Bearer \$HF_TOKEN"
  curl -sL \$HF_ENDPOINT/demo/tiny-model/resolve/main/model.safetensors -o /tmp/model.safetensors
  Any Hub client (huggingface_hub with HF_HUB_DISABLE_XET=1, @huggingface/hub) works against it.
MSG
if [ -t 0 ]; then
  echo
  read -r -p "hf-hubd keeps serving; press Enter to stop it. " _ || true
fi
