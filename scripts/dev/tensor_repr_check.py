#!/usr/bin/env python3
"""Checks fthost's tostring(tensor) against PyTorch's repr on random tensors (a developer tool, not a test:
it needs a local python3 with torch, which CI does not have).

Generates random tensors (dtypes f32/f64/bf16/f16/i64/i32/i8/u8/bool, 0-4 dims, summarised sizes, NaN/inf,
tiny/huge/integer values, requires_grad), writes a Lua script that rebuilds each one with ft.tensor and compares
tostring() with PyTorch's repr, and runs it.

    scripts/dev/tensor_repr_check.py build/fthost [--seed N] [--cases N]
"""
import argparse
import math
import os
import random
import subprocess
import sys
import tempfile

import torch

NAMES = {torch.float32: "f32", torch.float64: "f64", torch.bfloat16: "bf16", torch.float16: "f16",
         torch.int64: "i64", torch.int32: "i32", torch.uint8: "u8", torch.int8: "i8", torch.bool: "bool"}


def lua_value(v):
    if isinstance(v, list):
        return "{" + ",".join(lua_value(x) for x in v) + "}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "0/0"
        if math.isinf(v):
            return "math.huge" if v > 0 else "-math.huge"
        return repr(v)
    return str(v)


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') + '"'


def random_tensor(rng):
    nd = rng.choice([0, 1, 1, 2, 2, 3, 4])
    if rng.random() < 0.15:
        shape = [rng.randint(0, 40) for _ in range(nd)]
        if nd and rng.random() < 0.5:
            shape[0] = rng.randint(1001, 1500) if nd == 1 else rng.randint(20, 60)
    else:
        shape = [rng.randint(1, 6) for _ in range(nd)]
    if math.prod(shape) > 3000:
        shape = [min(s, 12) for s in shape]
    dt = rng.choice(list(NAMES))
    mode = rng.choice(["randn", "int", "wide", "tiny", "special", "big"])
    if dt.is_floating_point:
        x = torch.randn(shape, dtype=torch.float64)
        if mode == "int":
            x = x.mul(50).round()
        elif mode == "wide":
            x = x * torch.pow(10.0, torch.randint(-6, 9, shape).double())
        elif mode == "tiny":
            x = x * 1e-5
        elif mode == "big":
            x = x * 1e9
        elif mode == "special" and x.numel() > 0:
            flat = x.view(-1)
            for _ in range(3):
                flat[rng.randrange(flat.numel())] = rng.choice([math.nan, math.inf, -math.inf, 0.0, -0.0])
        x = x.to(dt)
        if rng.random() < 0.1:
            x.requires_grad_(True)
    elif dt == torch.bool:
        x = torch.rand(shape) > 0.5
    else:
        if dt == torch.uint8:
            lo, hi = 0, 255
        elif dt == torch.int8:
            lo, hi = -128, 127
        else:
            lo, hi = -10 ** rng.randint(1, 6), 10 ** rng.randint(1, 6)
        x = torch.randint(lo, hi, shape, dtype=dt)
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fthost")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cases", type=int, default=400)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    out = ["local ft = require 'ft'", "local bad, n = 0, 0",
           "local function chk(t, want, id) n = n + 1; local got = tostring(t); if got ~= want then bad = bad + 1;"
           " if bad <= 10 then print('MISMATCH case ' .. id .. '\\n' .. got .. '\\n--- PyTorch\\n' .. want) end end end"]
    for case in range(a.cases):
        x = random_tensor(rng)
        opts = '{dtype="%s"%s}' % (NAMES[x.dtype], ", requires_grad=true" if x.requires_grad else "")
        if x.numel() == 0:
            ctor = "ft.tensor.zeros({%s}, %s)" % (",".join(map(str, x.shape)), opts)
        else:
            ctor = "ft.tensor(%s, %s)" % (lua_value(x.detach().tolist()), opts)
        out.append("do chk(%s, %s, %d) end" % (ctor, lua_string(repr(x)), case))
    out.append("print(string.format('%d cases, %d differ from PyTorch', n, bad))")
    out.append("os.exit(bad == 0 and 0 or 1)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("\n".join(out) + "\n")
    try:
        return subprocess.call([a.fthost, f.name])
    finally:
        os.unlink(f.name)


if __name__ == "__main__":
    sys.exit(main())
