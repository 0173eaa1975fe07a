// _ft.train: thin wrappers over host/train: LoRA (attach, merge, unmerge, enable, PEFT save/load),
// freezing by name pattern, the SFT trainer object (step, evaluate, save, resume, keep, load_weights), the
// optimization options shared with other trainers (wrap_train.h), and the interrupt flag the Lua training
// loop polls.
#include "wrap_train.h"
#include "core/interrupt.h"
#include "lua_json.h"
#include "lua_util.h"
#include "model/model.h"
#include "train/bench.h"
#include "train/freeze.h"
#include "train/lora.h"
#include "train/trainer.h"
#include "wrap_data.h"

FT_LUA_DECLARE_TYPE(ft::model::Model, "Model")
FT_LUA_DECLARE_TYPE(ft::train::SftTrainer, "SftTrainer")

namespace ft::lua {

namespace {

using train::SftTrainer;

// Integers of a list field (nil: none).
std::vector<int64_t> field_integer_list(lua_State* L, int idx, const char* key) {
  std::vector<int64_t> out;
  lua_getfield(L, idx, key);
  if (lua_istable(L, -1)) {
    for (int i = 1; i <= static_cast<int>(lua_objlen(L, -1)); ++i) {
      lua_rawgeti(L, -1, i);
      out.push_back(check_integer(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return out;
}

// A table field as JSON (nil: null).
nlohmann::json field_json(lua_State* L, int idx, const char* key) {
  lua_getfield(L, idx, key);
  nlohmann::json j = lua_isnil(L, -1) ? nlohmann::json() : to_json_value(L, -1, idx);
  lua_pop(L, 1);
  return j;
}

// lora(model, {r, alpha, dropout, rslora, targets = {...}, target_regex, all_linear, exclude = {...},
//              exclude_regex, layers = {...}, layers_pattern = {...}, rank_pattern = {[re] = r},
//              alpha_pattern = {[re] = alpha}, bias, modules_to_save, seed}) -> count
// (ft.lora normalises the user's options into these fields.)
int w_lora(lua_State* L) {
  auto& m = check_ref<model::Model>(L, 1);
  check_table(L, 2);
  train::LoraConfig c;
  c.r = field_integer(L, 2, "r", c.r);
  c.alpha = field_number(L, 2, "alpha", c.alpha);
  c.dropout = field_number(L, 2, "dropout", c.dropout);
  c.rslora = field_boolean(L, 2, "rslora", false);
  c.seed = static_cast<uint64_t>(field_integer(L, 2, "seed", 0));
  c.targets = field_string_list(L, 2, "targets");
  c.target_regex = field_string(L, 2, "target_regex", "");
  c.all_linear = field_boolean(L, 2, "all_linear", false);
  c.exclude = field_string_list(L, 2, "exclude");
  c.exclude_regex = field_string(L, 2, "exclude_regex", "");
  c.layers = field_integer_list(L, 2, "layers");
  c.layers_pattern = field_string_list(L, 2, "layers_pattern");
  c.rank_pattern = train::rank_pattern_from_json(field_json(L, 2, "rank_pattern"), "m:lora: rank_pattern");
  c.alpha_pattern =
      train::alpha_pattern_from_json(field_json(L, 2, "alpha_pattern"), "m:lora: alpha_pattern");
  c.bias = field_string(L, 2, "bias", c.bias);
  c.modules_to_save = field_string_list(L, 2, "modules_to_save");
  auto t = train::apply_lora(m, c);
  lua_pushinteger(L, static_cast<lua_Integer>(t.size()));
  return 1;
}

// adapter_config(model) -> the adapter_config.json table save_adapter would write
int w_adapter_config(lua_State* L) {
  push_json_value(L, train::peft_config_json(check_ref<model::Model>(L, 1)));
  return 1;
}

// freeze(model, {patterns = {...}}) / unfreeze(model, {patterns = {...}}) -> trainable parameter elements
int w_freeze(lua_State* L) {
  auto& m = check_ref<model::Model>(L, 1);
  check_table(L, 2);
  lua_pushinteger(L, static_cast<lua_Integer>(train::freeze_except(m, field_string_list(L, 2, "patterns"))));
  return 1;
}
int w_unfreeze(lua_State* L) {
  auto& m = check_ref<model::Model>(L, 1);
  check_table(L, 2);
  lua_pushinteger(L, static_cast<lua_Integer>(train::unfreeze(m, field_string_list(L, 2, "patterns"))));
  return 1;
}

int w_merge(lua_State* L) {
  train::merge_lora(check_ref<model::Model>(L, 1));
  return 0;
}
int w_unmerge(lua_State* L) {
  train::unmerge_lora(check_ref<model::Model>(L, 1));
  return 0;
}
int w_set_enabled(lua_State* L) {
  train::set_lora_enabled(check_ref<model::Model>(L, 1), check_boolean(L, 2));
  return 0;
}
int w_save_adapter(lua_State* L) {
  train::save_adapter(check_ref<model::Model>(L, 1), check_string(L, 2));
  return 0;
}
int w_load_adapter(lua_State* L) {
  train::load_adapter(check_ref<model::Model>(L, 1), check_string(L, 2));
  return 0;
}

// trainable(model) -> list of {name, numel}, total trainable, total
int w_trainable(lua_State* L) {
  auto& m = check_ref<model::Model>(L, 1);
  auto ps = train::trainable_parameters(m);
  lua_createtable(L, static_cast<int>(ps.size()), 0);
  int64_t total = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, ps[i].first.c_str());
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, static_cast<lua_Integer>(ps[i].second.numel()));
    lua_setfield(L, -2, "numel");
    lua_rawseti(L, -2, static_cast<int>(i + 1));
    total += ps[i].second.numel();
  }
  lua_pushinteger(L, static_cast<lua_Integer>(total));
  int64_t all = 0;
  for (auto& p : m.lm->parameters()) all += p.numel();
  lua_pushinteger(L, static_cast<lua_Integer>(all));
  return 3;
}

}  // namespace

void check_step_options(lua_State* L, int o, train::StepOptions& t) {
  t.schedule.lr = field_number(L, o, "lr", t.schedule.lr);
  t.schedule.kind = field_string(L, o, "schedule", t.schedule.kind);
  t.schedule.warmup_steps = field_integer(L, o, "warmup_steps", t.schedule.warmup_steps);
  t.schedule.min_lr_ratio = field_number(L, o, "min_lr_ratio", t.schedule.min_lr_ratio);
  t.warmup_ratio = field_number(L, o, "warmup_ratio", t.warmup_ratio);
  t.max_grad_norm = field_number(L, o, "max_grad_norm", t.max_grad_norm);
  t.optimizer = field_string(L, o, "optimizer", t.optimizer);
  t.adamw.beta1 = field_number(L, o, "beta1", t.adamw.beta1);
  t.adamw.beta2 = field_number(L, o, "beta2", t.adamw.beta2);
  t.adamw.eps = field_number(L, o, "eps", t.adamw.eps);
  t.adamw.weight_decay = field_number(L, o, "weight_decay", t.adamw.weight_decay);
  t.sgd.weight_decay = t.adafactor.weight_decay = t.adamw.weight_decay;
  t.sgd.momentum = field_number(L, o, "momentum", t.sgd.momentum);
  t.sgd.dampening = field_number(L, o, "dampening", t.sgd.dampening);
  t.sgd.nesterov = field_boolean(L, o, "nesterov", t.sgd.nesterov);
  if (has_field(L, o, "beta1")) t.adafactor.beta1 = t.adamw.beta1;
  t.adafactor.relative_step = field_boolean(L, o, "relative_step", t.adafactor.relative_step);
  t.adafactor.scale_parameter = field_boolean(L, o, "scale_parameter", t.adafactor.scale_parameter);
  t.adafactor.warmup_init = field_boolean(L, o, "warmup_init", t.adafactor.warmup_init);
  t.adafactor.decay_rate = field_number(L, o, "decay_rate", t.adafactor.decay_rate);
  t.adafactor.clip_threshold = field_number(L, o, "clip_threshold", t.adafactor.clip_threshold);
  t.precision = field_string(L, o, "precision", t.precision);
  t.gradient_checkpointing = field_boolean(L, o, "gradient_checkpointing", t.gradient_checkpointing);
  t.seed = static_cast<uint64_t>(field_integer(L, o, "seed", static_cast<int64_t>(t.seed)));
  t.rank = static_cast<int>(field_integer(L, o, "rank", t.rank));
  t.world_size = static_cast<int>(field_integer(L, o, "world_size", t.world_size));
  t.output = field_string(L, o, "output", t.output);
  t.save_total_limit = field_integer(L, o, "save_total_limit", t.save_total_limit);
}

namespace {

// Examples from an Examples store (moved out of it) or tokenized from rows at idx (origins at idx + 1).
data::FormatResult examples_at(lua_State* L, int idx, const model::Model& m, const data::FormatOptions& f) {
  if (is_type(L, idx, TypeName<data::FormatResult>::registry))
    return std::move(check_ref<data::FormatResult>(L, idx));
  return format_for(m, check_rows(L, idx), f);
}

// trainer(model, rows | Examples, origins, eval_rows | Examples | nil, eval_origins|nil, format_opts,
// train_opts)
int w_trainer(lua_State* L) {
  auto mp = check_object<model::Model>(L, 1);
  data::FormatOptions f = check_format(L, 6);
  check_table(L, 7);
  const int o = 7;
  train::TrainerOptions t;
  check_step_options(L, o, t);
  t.batch_size = field_integer(L, o, "batch_size", t.batch_size);
  t.grad_accum = field_integer(L, o, "grad_accum", t.grad_accum);
  t.epochs = field_integer(L, o, "epochs", t.epochs);
  t.max_steps = field_integer(L, o, "max_steps", t.max_steps);
  t.shuffle = field_boolean(L, o, "shuffle", true);
  t.group_by_length = field_boolean(L, o, "group_by_length", false);
  if (field_boolean(L, o, "packing", false)) t.pack_len = f.max_len;
  auto train_ex = examples_at(L, 2, *mp, f);
  std::vector<data::Example> eval_ex;
  if (!lua_isnoneornil(L, 4)) eval_ex = examples_at(L, 4, *mp, f).examples;
  auto tr = std::make_shared<SftTrainer>(mp, std::move(train_ex.examples), std::move(eval_ex), t);
  push_object(L, tr);
  lua_pushinteger(L, static_cast<lua_Integer>(train_ex.skipped));
  lua_pushinteger(L, static_cast<lua_Integer>(train_ex.truncated));
  lua_pushlstring(L, train_ex.first_skip.data(), train_ex.first_skip.size());
  return 4;
}

void set_num(lua_State* L, const char* k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

int t_step(lua_State* L) {
  auto& t = check_ref<SftTrainer>(L, 1);
  auto s = t.step();
  lua_createtable(L, 0, 8);
  set_num(L, "step", static_cast<double>(s.step));
  set_num(L, "loss", s.loss);
  set_num(L, "lr", s.lr);
  set_num(L, "grad_norm", s.grad_norm);
  set_num(L, "seconds", s.seconds);
  set_num(L, "tokens", static_cast<double>(s.tokens));
  set_num(L, "padded_tokens", static_cast<double>(s.padded_tokens));
  set_num(L, "label_tokens", static_cast<double>(s.label_tokens));
  set_num(L, "epoch", static_cast<double>(s.epoch));
  set_num(L, "loss_scale", s.loss_scale);
  lua_pushboolean(L, s.overflow);
  lua_setfield(L, -2, "overflow");
  return 1;
}

int t_evaluate(lua_State* L) {
  auto e = check_ref<SftTrainer>(L, 1).evaluate();
  lua_createtable(L, 0, 3);
  set_num(L, "loss", e.loss);
  set_num(L, "perplexity", e.perplexity);
  set_num(L, "label_tokens", static_cast<double>(e.label_tokens));
  return 1;
}

// save(callbacks|nil) -> dir; callbacks: a table of the Lua loop's state, kept in trainer_state.json
int t_save(lua_State* L) {
  auto& t = check_ref<SftTrainer>(L, 1);
  nlohmann::json cb = lua_istable(L, 2) ? to_json_value(L, 2, 2) : nlohmann::json();
  std::string dir = t.save_checkpoint(cb);
  lua_pushstring(L, dir.c_str());
  return 1;
}

// resume(dir|nil) -> step, callbacks table|nil
int t_resume(lua_State* L) {
  auto& t = check_ref<SftTrainer>(L, 1);
  if (lua_isstring(L, 2)) {
    t.load_checkpoint(check_string(L, 2));
    lua_pushinteger(L, static_cast<lua_Integer>(t.global_step()));
  } else {
    lua_pushinteger(L, static_cast<lua_Integer>(t.resume()));
  }
  if (t.resumed_callbacks().is_null())
    lua_pushnil(L);
  else
    push_json_value(L, t.resumed_callbacks());
  return 2;
}

// keep(step): checkpoint-<step> survives pruning (the best model's)
int t_keep(lua_State* L) {
  check_ref<SftTrainer>(L, 1).state().keep_checkpoint(check_integer(L, 2));
  return 0;
}

// load_weights(dir): the trainable parameters of a checkpoint (load_best_model_at_end)
int t_load_weights(lua_State* L) {
  check_ref<SftTrainer>(L, 1).state().load_weights(check_string(L, 2));
  return 0;
}

int t_info(lua_State* L) {
  auto& t = check_ref<SftTrainer>(L, 1);
  lua_createtable(L, 0, 5);
  set_num(L, "step", static_cast<double>(t.global_step()));
  set_num(L, "total_steps", static_cast<double>(t.total_steps()));
  set_num(L, "steps_per_epoch", static_cast<double>(t.steps_per_epoch()));
  set_num(L, "lr", t.current_lr());
  lua_pushstring(L, t.optimizer().name().c_str());
  lua_setfield(L, -2, "optimizer");
  lua_pushstring(L, t.state().precision().c_str());
  lua_setfield(L, -2, "precision");
  set_num(L, "loss_scale", t.state().loss_scale());
  return 1;
}

int w_interrupt_requested(lua_State* L) {
  lua_pushboolean(L, ft::interrupt_requested());
  return 1;
}
int w_clear_interrupt(lua_State*) {
  ft::clear_interrupt();
  return 0;
}
int w_install_sigterm(lua_State*) {
  train::install_sigterm_handler();
  return 0;
}
int w_latest_checkpoint(lua_State* L) {
  std::string d = train::latest_checkpoint(check_string(L, 1));
  if (d.empty())
    lua_pushnil(L);
  else
    lua_pushstring(L, d.c_str());
  return 1;
}

// bench_adamw(numel, steps) -> {fused_s, torch_s, copy_s, bytes_per_step}
int w_bench_adamw(lua_State* L) {
  auto r = train::bench_adamw(check_integer(L, 1), static_cast<int>(opt_integer(L, 2, 10)));
  lua_createtable(L, 0, 5);
  set_num(L, "numel", static_cast<double>(r.numel));
  set_num(L, "fused_s", r.fused_s);
  set_num(L, "torch_s", r.torch_s);
  set_num(L, "copy_s", r.copy_s);
  set_num(L, "bytes_per_step", r.bytes_per_step);
  return 1;
}

const Reg kTrainerMethods[] = {{"step", t_step},
                               {"evaluate", t_evaluate},
                               {"save", t_save},
                               {"resume", t_resume},
                               {"info", t_info},
                               {"keep", t_keep},
                               {"load_weights", t_load_weights},
                               {nullptr, nullptr}};
const Reg kFuncs[] = {{"lora", w_lora},
                      {"merge", w_merge},
                      {"unmerge", w_unmerge},
                      {"set_adapters_enabled", w_set_enabled},
                      {"save_adapter", w_save_adapter},
                      {"load_adapter", w_load_adapter},
                      {"trainable", w_trainable},
                      {"adapter_config", w_adapter_config},
                      {"freeze", w_freeze},
                      {"unfreeze", w_unfreeze},
                      {"trainer", w_trainer},
                      {"interrupt_requested", w_interrupt_requested},
                      {"clear_interrupt", w_clear_interrupt},
                      {"install_sigterm", w_install_sigterm},
                      {"latest_checkpoint", w_latest_checkpoint},
                      {"bench_adamw", w_bench_adamw},
                      {nullptr, nullptr}};

int open_train(lua_State* L) {
  define_type<SftTrainer>(L, kTrainerMethods);
  lua_pop(L, 1);
  new_lib(L, "_ft.train", kFuncs);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.train", ft::lua::open_train);
