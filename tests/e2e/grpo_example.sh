#!/usr/bin/env bash
# examples/grpo_reward.lua as users run it: on the tiny default (LoRA and full fine-tuning, a few steps) and
# with --model pointing at a local HF folder whose tokenizer has a chat template (the path a real Qwen2.5
# checkpoint takes: chat prompts, <answer> tags, a format reward next to the custom one, beta > 0).
source "$(dirname "$0")/lib.sh"
cd "$FTHOST_SRC"

run "$FTHOST" examples/grpo_reward.lua --steps=10 --output="$E2E_TMP/lora"
expect_rc "tiny default, LoRA" 0
expect_out "prints the reward before and after" "mean reward on held-out prompts:"
expect_out "logs steps" "step 10/10 | reward"
[[ -f $E2E_TMP/lora/adapter/adapter_config.json && -f $E2E_TMP/lora/adapter/adapter_model.safetensors ]] &&
  ok "PEFT adapter saved" || bad "PEFT adapter saved"
[[ -s $E2E_TMP/lora/metrics.jsonl ]] && ok "metrics.jsonl written" || bad "metrics.jsonl written"

run "$FTHOST" examples/grpo_reward.lua --steps=4 --lora=false --output="$E2E_TMP/full"
expect_rc "tiny default, full fine-tuning" 0
[[ -f $E2E_TMP/full/model/model.safetensors ]] && ok "full model saved" || bad "full model saved"

# A local "instruct" model: tiny weights + the ChatML tokenizer fixture (264 tokens + 3 added, ids up to 302).
model=$E2E_TMP/chat-model
run "$FTHOST" -e "ft.new{ hidden = 32, layers = 2, heads = 4, vocab = 303, seed = 3 }:save('$model')"
expect_rc "tiny chat model saved" 0
cp tests/data/tokenizers/tiny-bpe/tokenizer.json tests/data/tokenizers/tiny-bpe/tokenizer_config.json "$model/"
run "$FTHOST" examples/grpo_reward.lua --model="$model" --dtype=f32 --steps=2 --output="$E2E_TMP/chat"
expect_rc "--model with a chat template" 0
expect_out "both rewards logged" "in_place"
expect_out "format reward logged" "format"
expect_out "reference policy in use (kl logged)" "| kl "
finish
