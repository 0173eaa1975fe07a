// _ft.grpo: thin wrappers over host/train/grpo.h. trainer(model, opts) makes a GrpoTrainer; its methods
// rollout / train / save / resume / info / prompt_indices move values between Lua and C++. Options are
// validated by stdlib/ft/grpo.lua; indices cross 1-based, token ids as Lua integers.
#include <cmath>
#include <limits>

#include "lua_json.h"
#include "lua_util.h"
#include "model/model.h"
#include "train/grpo.h"
#include "wrap_text.h"
#include "wrap_train.h"

FT_LUA_DECLARE_TYPE(ft::model::Model, "Model")
FT_LUA_DECLARE_TYPE(ft::train::GrpoTrainer, "GrpoTrainer")
FT_LUA_DECLARE_TYPE(ft::train::Rollout, "GrpoRollout")

namespace ft::lua {
namespace {

using train::GrpoTrainer;
using train::Rollout;

void set_num(lua_State* L, const char* k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}
void set_bool(lua_State* L, const char* k, bool v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}
void set_str(lua_State* L, const char* k, const std::string& v) {
  lua_pushlstring(L, v.data(), v.size());
  lua_setfield(L, -2, k);
}

// trainer(model, opts) -> GrpoTrainer. opts: see GrpoOptions (names as in stdlib/ft/grpo.lua's native table).
int w_trainer(lua_State* L) {
  auto mp = check_object<model::Model>(L, 1);
  check_table(L, 2);
  const int o = 2;
  train::GrpoOptions g;
  g.num_generations = field_integer(L, o, "num_generations", g.num_generations);
  g.max_prompt_len = field_integer(L, o, "max_prompt_len", g.max_prompt_len);
  g.max_completion_len = field_integer(L, o, "max_completion_len", g.max_completion_len);
  g.sampling.temperature = field_number(L, o, "temperature", g.sampling.temperature);
  g.sampling.top_p = field_number(L, o, "top_p", g.sampling.top_p);
  g.sampling.top_k = field_integer(L, o, "top_k", g.sampling.top_k);
  g.sampling.min_p = field_number(L, o, "min_p", g.sampling.min_p);
  g.sampling.repetition_penalty = field_number(L, o, "repetition_penalty", g.sampling.repetition_penalty);
  lua_getfield(L, o, "eos_ids");
  if (!lua_isnil(L, -1)) g.eos_ids = check_ids(L, lua_gettop(L), o);
  lua_pop(L, 1);
  g.stop = field_string_list(L, o, "stop");
  g.beta = field_number(L, o, "beta", g.beta);
  g.epsilon = field_number(L, o, "epsilon", g.epsilon);
  g.epsilon_high = field_number(L, o, "epsilon_high", -1);
  g.loss = field_string(L, o, "loss", g.loss);
  g.scale_rewards = field_string(L, o, "scale_rewards", g.scale_rewards);
  g.num_iterations = field_integer(L, o, "num_iterations", g.num_iterations);
  g.mask_truncated_completions = field_boolean(L, o, "mask_truncated_completions", false);
  g.batch_size = field_integer(L, o, "batch_size", g.batch_size);
  g.grad_accum = field_integer(L, o, "grad_accum", g.grad_accum);
  g.max_steps = field_integer(L, o, "max_steps", g.max_steps);
  g.share_prompt_cache = field_boolean(L, o, "share_prompt_cache", true);
  g.logps_chunk_rows = field_integer(L, o, "logps_chunk_rows", 0);
  g.ref_device = field_string(L, o, "ref_device", "");
  g.skip_special_tokens = field_boolean(L, o, "skip_special_tokens", true);
  check_step_options(L, o, g);
  push_object(L, std::make_shared<GrpoTrainer>(mp, g));
  return 1;
}

// t:rollout({ids, ...}) -> rollout, { {completion, completion_ids, finish_reason, truncated,
// prompt_index, group_index}, ... } (sample i of prompt p at (p-1)*G + i).
int t_rollout(lua_State* L) {
  auto& t = check_ref<GrpoTrainer>(L, 1);
  check_table(L, 2);
  std::vector<std::vector<text::TokenId>> prompts;
  const size_t n = lua_objlen(L, 2);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, 2, static_cast<int>(i));
    if (!lua_istable(L, -1)) {
      std::string got = type_name(L, -1);
      lua_pop(L, 1);
      throw ArgError(2, "prompt " + std::to_string(i) + ": list of token ids expected, got " + got);
    }
    prompts.push_back(check_ids(L, lua_gettop(L), 2));
    lua_pop(L, 1);
  }
  std::shared_ptr<Rollout> r = t.rollout(prompts);
  push_object(L, r, static_cast<size_t>(r->bytes()));
  lua_createtable(L, static_cast<int>(r->size()), 0);
  for (int64_t i = 0; i < r->size(); ++i) {
    lua_createtable(L, 0, 6);
    set_str(L, "completion", r->text[i]);
    push_ids(L, r->completions[i]);
    lua_setfield(L, -2, "completion_ids");
    set_str(L, "finish_reason", r->finish_reason[i]);
    set_bool(L, "truncated", r->truncated[i]);
    set_num(L, "prompt_index", static_cast<double>(i / r->G + 1));
    set_num(L, "group_index", static_cast<double>(i % r->G + 1));
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 2;
}

// t:train(rollout, rewards, n) -> { stats, ... }; rewards[i] a number, or nil / NaN for "no reward".
int t_train(lua_State* L) {
  auto& t = check_ref<GrpoTrainer>(L, 1);
  auto& r = check_ref<Rollout>(L, 2);
  check_table(L, 3);
  const int64_t n = check_integer(L, 4);
  if (n != r.size())
    throw ArgError(4,
                   "the rollout has " + std::to_string(r.size()) + " completions, n is " + std::to_string(n));
  std::vector<double> rewards(static_cast<size_t>(n), std::numeric_limits<double>::quiet_NaN());
  for (int64_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, 3, static_cast<int>(i));
    if (lua_type(L, -1) == LUA_TNUMBER) {
      rewards[i - 1] = lua_tonumber(L, -1);
    } else if (!lua_isnil(L, -1)) {
      std::string got = type_name(L, -1);
      lua_pop(L, 1);
      throw ArgError(3, "reward " + std::to_string(i) + " must be a number or nil, got " + got);
    }
    lua_pop(L, 1);
  }
  auto stats = t.train(r, rewards);
  lua_createtable(L, static_cast<int>(stats.size()), 0);
  for (size_t i = 0; i < stats.size(); ++i) {
    const auto& s = stats[i];
    lua_createtable(L, 0, 24);
    set_num(L, "step", static_cast<double>(s.step));
    set_num(L, "iteration", static_cast<double>(s.iteration + 1));
    set_num(L, "loss", s.loss);
    set_num(L, "lr", s.lr);
    set_num(L, "grad_norm", s.grad_norm);
    set_bool(L, "applied", s.applied);
    set_num(L, "kl", s.kl);
    set_num(L, "entropy", s.entropy);
    set_num(L, "clip_ratio_low", s.clip_low);
    set_num(L, "clip_ratio_high", s.clip_high);
    set_num(L, "clip_ratio", s.clip_region);
    set_num(L, "loss_tokens", static_cast<double>(s.loss_tokens));
    set_num(L, "reward", s.reward_mean);
    set_num(L, "reward_std", s.reward_std);
    set_num(L, "frac_reward_zero_std", s.frac_reward_zero_std);
    set_num(L, "nil_rewards", static_cast<double>(s.nil_rewards));
    set_num(L, "completion_len_mean", s.completion_len_mean);
    set_num(L, "completion_len_min", static_cast<double>(s.completion_len_min));
    set_num(L, "completion_len_max", static_cast<double>(s.completion_len_max));
    set_num(L, "truncated_frac", s.truncated_frac);
    set_num(L, "seconds_rollout", s.seconds_rollout);
    set_num(L, "seconds_train", s.seconds_train);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// t:save([extra]) -> checkpoint folder; extra: a JSON-able table given back by resume.
int t_save(lua_State* L) {
  auto& t = check_ref<GrpoTrainer>(L, 1);
  nlohmann::json extra;
  if (!is_none_or_nil(L, 2)) extra = to_json_value(L, 2, 2);
  std::string dir = t.save(extra);
  lua_pushlstring(L, dir.data(), dir.size());
  return 1;
}

// t:resume([dir]) -> step resumed at (0: nothing to resume), extra (nil when none)
int t_resume(lua_State* L) {
  auto& t = check_ref<GrpoTrainer>(L, 1);
  nlohmann::json extra;
  int64_t step = 0;
  if (!is_none_or_nil(L, 2)) {
    extra = t.load(check_string(L, 2));
    step = t.global_step();
  } else {
    step = t.resume(&extra);
  }
  lua_pushinteger(L, static_cast<lua_Integer>(step));
  if (extra.is_null())
    lua_pushnil(L);
  else
    push_json_value(L, extra);
  return 2;
}

int t_info(lua_State* L) {
  auto& t = check_ref<GrpoTrainer>(L, 1);
  lua_createtable(L, 0, 6);
  set_num(L, "step", static_cast<double>(t.global_step()));
  set_num(L, "total_steps", static_cast<double>(t.total_steps()));
  set_num(L, "lr", t.current_lr());
  set_num(L, "prompts_per_step", static_cast<double>(t.prompts_per_step()));
  set_num(L, "num_generations", static_cast<double>(t.options().num_generations));
  set_str(L, "reference", t.reference_kind());
  return 1;
}

// t:prompt_indices(num_rows) -> 1-based dataset rows to prompt at the current step
int t_prompt_indices(lua_State* L) {
  auto idx = check_ref<GrpoTrainer>(L, 1).prompt_indices(check_integer(L, 2));
  lua_createtable(L, static_cast<int>(idx.size()), 0);
  for (size_t i = 0; i < idx.size(); ++i) {
    lua_pushinteger(L, static_cast<lua_Integer>(idx[i] + 1));
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// rollout:stats() -> timing and work counters of the generation
int r_stats(lua_State* L) {
  auto& r = check_ref<Rollout>(L, 1);
  lua_createtable(L, 0, 10);
  set_num(L, "seconds_generate", r.seconds_generate);
  set_num(L, "seconds_logps", r.seconds_logps);
  set_num(L, "prefill_seconds", r.generation.prefill_seconds);
  set_num(L, "decode_seconds", r.generation.decode_seconds);
  set_num(L, "prefill_rows", static_cast<double>(r.generation.prefill_rows));
  set_num(L, "prefill_positions", static_cast<double>(r.generation.prefill_positions));
  set_num(L, "decode_steps", static_cast<double>(r.generation.decode_steps));
  set_num(L, "decode_rows", static_cast<double>(r.generation.decode_rows));
  int64_t tokens = 0;
  for (const auto& c : r.completions) tokens += static_cast<int64_t>(c.size());
  set_num(L, "completion_tokens", static_cast<double>(tokens));
  set_num(L, "prompts_truncated", static_cast<double>(r.prompts_truncated));
  return 1;
}

// rollout:advantages() -> list (one per sample) once trained, else nil
int r_advantages(lua_State* L) {
  auto& r = check_ref<Rollout>(L, 1);
  if (r.advantages.empty()) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, static_cast<int>(r.advantages.size()), 0);
  for (size_t i = 0; i < r.advantages.size(); ++i) {
    lua_pushnumber(L, r.advantages[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

int r_size(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(check_ref<Rollout>(L, 1).size()));
  return 1;
}

const Reg kTrainerMethods[] = {{"rollout", t_rollout}, {"train", t_train},
                               {"save", t_save},       {"resume", t_resume},
                               {"info", t_info},       {"prompt_indices", t_prompt_indices},
                               {nullptr, nullptr}};
const Reg kRolloutMethods[] = {
    {"stats", r_stats}, {"size", r_size}, {"advantages", r_advantages}, {nullptr, nullptr}};
const Reg kFuncs[] = {{"trainer", w_trainer}, {nullptr, nullptr}};

int open_grpo(lua_State* L) {
  define_type<GrpoTrainer>(L, kTrainerMethods);
  lua_pop(L, 1);
  define_type<Rollout>(L, kRolloutMethods);
  lua_pop(L, 1);
  new_lib(L, "_ft.grpo", kFuncs);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.grpo", ft::lua::open_grpo);
