#!/usr/bin/env bash
# Writes bash/zsh/fish completions for every vs-* binary in BIN_DIR from its own `--completion`.
set -euo pipefail
bin=${1:?usage: gen-completions.sh BIN_DIR OUT_DIR}
out=${2:?usage: gen-completions.sh BIN_DIR OUT_DIR}
mkdir -p "$out/bash" "$out/zsh" "$out/fish"
for exe in "$bin"/vs-*; do
  [ -x "$exe" ] || continue
  name=$(basename "$exe")
  "$exe" --completion bash > "$out/bash/$name"
  "$exe" --completion zsh > "$out/zsh/_$name"
  "$exe" --completion fish > "$out/fish/$name.fish"
done
echo "completions written to $out" >&2
