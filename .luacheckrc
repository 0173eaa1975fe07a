std = "luajit"
globals = { "ft" }
read_globals = { "jit" }
max_line_length = 130
max_comment_line_length = 160
files["tests/lua"] = { globals = { "ft" } }
