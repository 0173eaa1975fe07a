#!/usr/bin/env bash
# The recipes in examples/ people copy (besides quickstart and grpo_reward, which have their own tests):
# sft_lora.lua on a user's CSV file (a few steps, eval, checkpoint, PEFT adapter) and download.lua
# against the loopback fake Hub (snapshot in the HF cache, cache listing).
source "$FTHOST_SRC/tests/hub_server/hub_env.sh"
source "$FTHOST_SRC/tests/e2e/lib.sh"
set +e  # hub_env.sh sets -e; lib.sh's run() records exit codes itself
trap 'hub_cleanup; rm -rf "$E2E_TMP"' EXIT
cd "$FTHOST_SRC"

csv=$E2E_TMP/rows.csv
echo "prompt,completion" >"$csv"
for i in $(seq 1 120); do echo "\"$i,$i\",\"$((i * 2))\"" >>"$csv"; done
run "$FTHOST" examples/sft_lora.lua --data="$csv" --max_steps=6 --batch_size=4 --max_len=32 --output="$E2E_TMP/sft"
expect_rc "sft_lora.lua on a CSV file" 0
expect_out "prints the trainable parameters as PEFT does" "trainable params: "
expect_out "evaluates" "eval loss "
[[ -f $E2E_TMP/sft/adapter/adapter_config.json && -f $E2E_TMP/sft/adapter/adapter_model.safetensors ]] &&
  ok "PEFT adapter saved" || bad "PEFT adapter saved"
grep -q '"bias": "lora_only"' "$E2E_TMP/sft/adapter/adapter_config.json" && ok "adapter_config has the bias mode" ||
  bad "adapter_config has the bias mode"
[[ -f $E2E_TMP/sft/latest ]] && ok "checkpoint written" || bad "checkpoint written"
echo "prompt,completion" >"$E2E_TMP/bad.csv"
echo '"1,1",2,3' >>"$E2E_TMP/bad.csv"
run "$FTHOST" examples/sft_lora.lua --data="$E2E_TMP/bad.csv" --max_steps=1 --output="$E2E_TMP/bad"
expect_rc "a broken CSV row fails" 1
expect_err "the error names file and line" "bad.csv:2"

start_fake_hub
run "$FTHOST" examples/download.lua --repo=acme/tiny
expect_rc "download.lua from the fake Hub" 0
expect_out "prints the snapshot folder" "models--acme--tiny/snapshots/"
expect_out "lists the cache" "acme/tiny"
run "$FTHOST" examples/download.lua
expect_rc "download.lua without --repo" 1
expect_err "says how to call it" "usage: fthost examples/download.lua --repo=org/name"
finish
