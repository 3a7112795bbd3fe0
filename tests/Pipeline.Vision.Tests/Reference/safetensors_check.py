"""Cross-checks our safetensors files against the reference reader/writer.

  safetensors_check.py write OUT   writes the expected tensors and metadata to OUT
  safetensors_check.py verify IN   exits 0 when IN holds exactly the expected tensors and metadata

The content is deterministic and mirrored in SafeTensorsTests.Expected.
"""
import sys

import torch

import safetensors_io

METADATA = {"format": "pt", "note": "h\u00e9llo \u2713"}


def expected():
    base = torch.arange(24).reshape(2, 3, 4)
    out = {}
    for name, dtype in [("float32", torch.float32), ("float64", torch.float64), ("float16", torch.float16), ("bfloat16", torch.bfloat16)]:
        out[name] = ((base - 10).to(torch.float64) * 0.25).to(dtype)
    for name, dtype in [("int64", torch.int64), ("int32", torch.int32), ("int16", torch.int16), ("int8", torch.int8)]:
        out[name] = (base - 10).to(dtype)
    out["uint8"] = (base * 10).to(torch.uint8)
    out["bool"] = base % 3 == 0
    out["scalar"] = torch.tensor(3.5)
    out["empty"] = torch.zeros(0, 3)
    return out


def verify(path):
    tensors, meta = safetensors_io.load(path)
    want = expected()
    problems = []
    if sorted(tensors) != sorted(want):
        problems.append(f"names {sorted(tensors)} != {sorted(want)}")
    for name, w in want.items():
        t = tensors.get(name)
        if t is None:
            continue
        if t.dtype != w.dtype or t.shape != w.shape or not torch.equal(t, w):
            problems.append(f"{name}: got {t.dtype} {tuple(t.shape)} {t.flatten()[:6].tolist()}, want {w.dtype} {tuple(w.shape)} {w.flatten()[:6].tolist()}")
    if meta != METADATA:
        problems.append(f"metadata {meta!r} != {METADATA!r}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        safetensors_io.save(path, expected(), METADATA)
    else:
        verify(path)
