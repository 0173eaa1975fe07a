-- A reward script for tests/lua/test_rewards.lua that tries to read a file: the sandbox has no io.
return function(s)
  local f = io.open("/etc/passwd")
  return f and 1 or #s.completion
end
