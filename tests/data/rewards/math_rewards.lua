-- A reward script for tests/lua/test_rewards.lua: loaded by ft.rewards.load in the sandbox, it returns a
-- list mixing a plain function, a spec table, a built-in and an ft.reward that loops forever.
local function has_answer(s)
  return s.completion:find("<answer>", 1, true) and 1 or 0
end

return {
  function(s) return #s.completion end,
  { name = "has_answer", fn = has_answer, weight = 0.5, timeout_ms = math.huge },
  ft.rewards.numeric_answer { name = "num" },
  ft.reward { name = "spin", on_error = "zero", fn = function() while true do end end },
}
