std = "luajit"
globals = { "ft" }
read_globals = { "jit" }
max_line_length = 120
files["tests/lua"] = { globals = { "ft" } }
