#!/usr/bin/env python3
"""Writes the seed corpora of the io fuzz targets (tests/fuzz/corpus/{safetensors_header,gguf_reader}):
valid files of several shapes and each kind of malformed file the parsers reject. Re-run after changing."""
import json, os, struct

here = os.path.dirname(os.path.abspath(__file__))

def st(header, data_len, claimed=None):
    h = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(h) if claimed is None else claimed) + h + bytes(data_len)

def entry(dtype, shape, b, e):
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}

seeds = {
    "valid_two": st(json.dumps({"__metadata__": {"format": "pt"}, "a": entry("F32", [2, 2], 0, 16),
                                "b": entry("BF16", [3], 16, 22)}, separators=(",", ":")) + "  ", 22),
    "valid_empty": st("{}      ", 0),
    "valid_scalar_zero": st(json.dumps({"s": entry("F64", [], 0, 8), "z": entry("I8", [0, 3], 8, 8),
                                        "f4": entry("F4", [4], 8, 10)}), 10),
    "valid_all_dtypes": st(json.dumps({d: entry(d, [8], i * 64, i * 64 + 8 * bits // 8) for i, (d, bits) in enumerate(
        [("BOOL", 8), ("U8", 8), ("I8", 8), ("I16", 16), ("U16", 16), ("F16", 16), ("BF16", 16), ("I32", 32),
         ("U32", 32), ("F32", 32), ("F64", 64), ("I64", 64), ("U64", 64), ("C64", 64), ("F8_E4M3", 8)])}), 0),
    "bad_truncated": st(json.dumps({"a": entry("F32", [4], 0, 16)}), 4),
    "bad_overlap": st(json.dumps({"a": entry("F32", [4], 0, 16), "b": entry("F32", [4], 8, 24)}), 24),
    "bad_dtype": st(json.dumps({"a": entry("F33", [4], 0, 16)}), 16),
    "bad_huge_header": st("{}", 0, claimed=100_000_001),
    "bad_sizes": st(json.dumps({"a": entry("F32", [2, 2], 0, 12)}), 12),
    "bad_json": st('{"a": {"dtype": "F32", "shape": [4', 0),
    "bad_dup": st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', 2),
    "bad_metadata": st('{"__metadata__":{"epoch":3}}', 0),
    "bad_short": b"\x05\x00",
}
# "valid_all_dtypes" above has holes on purpose for the fuzzer to mutate; make one truly valid too.
off, ents = 0, {}
for d, bits in [("I64", 64), ("F32", 32), ("F16", 16), ("U8", 8), ("BOOL", 8)]:
    ents["t." + d] = entry(d, [2, 3], off, off + 6 * bits // 8)
    off += 6 * bits // 8
seeds["valid_layout"] = st(json.dumps(ents, separators=(",", ":")), off)

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b

def gguf(kvs, tensors, align=32, cut=None):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, payload in kvs:
        out += gstr(k) + struct.pack("<I", t) + payload
    off, datas = 0, []
    for name, dims, typ, nbytes in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", typ, off)
        datas.append((off, nbytes))
        off = (off + nbytes + align - 1) // align * align
    out += bytes((-len(out)) % align) + bytes(off)
    return out[:cut] if cut else out

kvs = [("general.alignment", 4, struct.pack("<I", 32)), ("general.architecture", 8, gstr("qwen2")),
       ("qwen2.block_count", 4, struct.pack("<I", 2)), ("f", 6, struct.pack("<f", 1.5)), ("b", 7, b"\x01"),
       ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + gstr("a") + gstr("b") + gstr("ab")),
       ("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 3) + struct.pack("<3i", 1, 1, 1))]
tens = [("token_embd.weight", [64, 3], 8, 3 * 2 * 34), ("output_norm.weight", [64], 0, 256),
        ("blk.0.attn_q.weight", [64, 4], 1, 64 * 4 * 2), ("blk.0.ffn_up.weight", [64, 2], 30, 256)]
gseeds = {
    "valid": gguf(kvs, tens),
    "valid_empty": gguf([], []),
    "bad_truncated": gguf(kvs, tens, cut=300),
    "bad_type": gguf(kvs, [("x", [4], 99, 16)]),
    "bad_bool": gguf([("b", 7, b"\x02")], []),
}

for sub, items in (("safetensors_header", seeds), ("gguf_reader", gseeds)):
    d = os.path.join(here, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    for name, data in items.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
