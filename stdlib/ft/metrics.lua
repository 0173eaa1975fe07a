--- Training metrics: one JSON object per line appended to <output>/metrics.jsonl (keys sorted, NaN/inf as
--- null), the format HF Trainer's log_history readers and `jq` take.
local M = {}

--- One record as a JSON line (numbers, booleans and strings; integers printed without a fraction).
---@param t table<string, number|boolean|string>
---@return string
function M.json_line(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    local s
    if type(v) == "number" then
      if v ~= v or v == math.huge or v == -math.huge then s = "null"
      elseif v == math.floor(v) and math.abs(v) < 2 ^ 53 then s = string.format("%d", v)
      else s = string.format("%.9g", v) end
    elseif type(v) == "boolean" then s = tostring(v)
    else s = string.format("%q", tostring(v)) end
    parts[#parts + 1] = string.format("%q:%s", k, s)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- Appends a record to <run._o.output>/metrics.jsonl (nothing when the run has no output folder).
---@param run table a run with `_o.output`
---@param rec table
function M.append(run, rec)
  local out = run._o.output
  if not out then return end
  if not run._made_output then
    os.execute(string.format("mkdir -p %q", out))
    run._made_output = true
  end
  local f = assert(io.open(out .. "/metrics.jsonl", "a"))
  f:write(M.json_line(rec), "\n")
  f:close()
end

return M
