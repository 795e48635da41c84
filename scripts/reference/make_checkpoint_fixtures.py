#!/usr/bin/python3
"""Writes small checkpoint fixtures for codeneurons' weight readers (test/fixtures/checkpoints).

Run with the Debian interpreter (torch 1.13): /usr/bin/python3 scripts/reference/make_checkpoint_fixtures.py

Layout written (each folder is a model directory as codeneurons sees it):
  expected.json                 name -> {shape, dtype, values} (values as float32 numbers, row-major)
  bin-zip/pytorch_model.bin     torch.save zip format, pickle protocol 2 (torch's default)
  bin-proto4/pytorch_model.bin  same tensors, pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, ...)
  bin-deflate/pytorch_model.bin the zip re-packed with deflated entries
  bin-legacy/pytorch_model.bin  the pre-1.6 non-zip format (_use_new_zipfile_serialization=False)
  bin-bigendian/pytorch_model.bin  float32/int64 tensors with byteorder "big" and byte-swapped storages
  bin-sharded/                  pytorch_model-0000k-of-00002.bin + pytorch_model.bin.index.json
  st/model.safetensors          hand-written safetensors (F32, F16, BF16, F64, I64, I32, I8, U8, BOOL)
  st-sharded/                   model-0000k-of-00002.safetensors + model.safetensors.index.json
  evil-system/pytorch_model.bin valid zip whose pickle calls posix.system (must be refused)
  evil-eval/pytorch_model.bin   valid zip whose pickle (protocol 4) calls builtins.eval (must be refused)
  evil-bytes/pytorch_model.bin  valid zip whose pickle calls torch.storage._load_from_bytes (refused)
  evil-inst/pytorch_model.bin   valid zip whose pickle uses INST subprocess.Popen (refused)
  pickles/plain-p{0..5}.pkl     one plain structure pickled with each protocol; pickles/plain.json its value
"""

import collections
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "checkpoints")


def make_state_dict():
    torch.manual_seed(0)
    sd = collections.OrderedDict()
    sd["f32.weight"] = torch.randn(3, 4)
    sd["f16.weight"] = torch.randn(2, 3).half()
    sd["bf16.weight"] = torch.randn(5).bfloat16()
    sd["f64.weight"] = torch.randn(2, 2).double()
    tied = torch.randn(2, 3)
    sd["tied.a"] = tied
    sd["tied.b"] = tied  # the same tensor twice: one storage, two names
    base = torch.arange(20, dtype=torch.float32) * 0.5
    sd["view.base"] = base
    sd["view.offset"] = base[5:11].view(2, 3)  # storage offset 5 into view.base's storage
    sd["transposed"] = torch.randn(3, 4).t()  # stride (1, 3): not contiguous
    sd["strided"] = torch.randn(4, 6)[::2, 1::2]  # stride (12, 2), offset 1
    sd["half.transposed"] = torch.randn(2, 5).half().t()
    sd["position_ids"] = torch.arange(7, dtype=torch.int64).expand((1, -1))  # as BERT registers it: stride 0
    sd["broadcast"] = torch.randn(3).expand(2, 3)  # stride (0, 1): one row stored, two read
    sd["int32"] = torch.tensor([-3, 0, 2**31 - 1], dtype=torch.int32)
    sd["int8"] = torch.tensor([-128, 5, 127], dtype=torch.int8)
    sd["uint8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    sd["mask"] = torch.tensor([[True, False], [False, True]])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2))
    # Hugging Face state dicts carry version metadata as an attribute of the OrderedDict.
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("f32", {"version": 1})])
    return sd


def expected_json(sd):
    out = {}
    for name, t in sd.items():
        t = t.detach()
        out[name] = {
            "shape": list(t.shape),
            "dtype": str(t.dtype).replace("torch.", ""),
            "values": [float(v) for v in t.reshape(-1).to(torch.float32).tolist()],
        }
    return out


def save_zip(obj, path, protocol=2):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, pickle_protocol=protocol)


def repack_deflated(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


def save_big_endian(dst):
    """float32/int64 only; every storage byte-swapped and a byteorder record saying 'big'."""
    torch.manual_seed(1)
    sd = collections.OrderedDict()
    sd["a"] = torch.randn(2, 3)
    sd["b"] = torch.arange(4, dtype=torch.int64) - 2
    buf = io.BytesIO()
    torch.save(sd, buf)
    sizes = {}
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin:
        names = zin.namelist()
        prefix = names[0].split("/")[0]
        # Storage keys follow the order of first use: a -> 0 (float32), b -> 1 (int64).
        sizes = {f"{prefix}/data/0": 4, f"{prefix}/data/1": 8}
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as zout:
            for name in names:
                data = zin.read(name)
                if name in sizes:
                    n = sizes[name]
                    data = b"".join(data[i : i + n][::-1] for i in range(0, len(data), n))
                zout.writestr(name, data)
            zout.writestr(f"{prefix}/byteorder", b"big")
    return expected_json(sd)


ST_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors):
    """The safetensors format by hand: u64 header length, JSON header, data buffer."""
    header = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        data = tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b" " * ((8 - (8 + len(head)) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)


def shard_names(sd):
    names = list(sd.keys())
    return names[: len(names) // 2], names[len(names) // 2 :]


def save_sharded_bin(sd, folder):
    first, second = shard_names(sd)
    files = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    weight_map = {}
    for part, file in zip((first, second), files):
        shard = collections.OrderedDict((n, sd[n]) for n in part)
        save_zip(shard, os.path.join(folder, file))
        weight_map.update({n: file for n in part})
    write_index(os.path.join(folder, "pytorch_model.bin.index.json"), weight_map)


def save_sharded_st(sd, folder):
    first, second = shard_names(sd)
    files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    for part, file in zip((first, second), files):
        write_safetensors(os.path.join(folder, file), {n: sd[n] for n in part})
        weight_map.update({n: file for n in part})
    write_index(os.path.join(folder, "model.safetensors.index.json"), weight_map)


def write_index(path, weight_map):
    with open(path, "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)


def zip_with_pickle(path, pickle_bytes):
    """A zip laid out as torch.save lays it out, with the given data.pkl and one float storage."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/data/0", struct.pack("<4f", 1, 2, 3, 4))
        z.writestr("archive/version", b"3\n")


class _Reduce:
    """Pickles as a call of `func(*args)`: the shape of every code-running pickle."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def evil_pickles():
    import builtins
    import pickle

    # GLOBAL 'posix system' + REDUCE: what pickle emits for os.system on Linux.
    system = pickle.dumps({"x": _Reduce(os.system, ("echo pwned >&2",))}, protocol=2)
    # Protocol 4: STACK_GLOBAL builtins.eval.
    evaluate = pickle.dumps({"x": _Reduce(builtins.eval, ("1+1",))}, protocol=4)
    # A storage pickled by plain pickle: torch.storage._load_from_bytes runs torch.load on embedded bytes.
    from_bytes = pickle.dumps({"x": torch.ones(2).storage()}, protocol=2)
    # INST (protocol 0): instantiate subprocess.Popen with the marked arguments. Written by hand: Python 3
    # no longer emits INST.
    inst = b"\x80\x02}q\x00X\x01\x00\x00\x00xq\x01(X\x04\x00\x00\x00trueisubprocess\nPopen\nq\x02s."
    return {"evil-system": system, "evil-eval": evaluate, "evil-bytes": from_bytes, "evil-inst": inst}


def check_evil_pickles_are_what_they_claim(pickles):
    import pickletools

    wanted = {
        "evil-system": "posix system",
        "evil-eval": "builtins",
        "evil-bytes": "torch.storage _load_from_bytes",
        "evil-inst": "subprocess Popen",
    }
    for name, data in pickles.items():
        text = io.StringIO()
        pickletools.dis(data, out=text)
        assert wanted[name] in text.getvalue(), (name, text.getvalue())


def plain_value():
    shared = [7, 8]
    return {
        "int": 5,
        "neg": -70000,
        "i32": 2**31 - 1,
        "big": 2**70,
        "negbig": -(2**64) - 1,
        "float": 1.5,
        "tiny": -2.5e-300,
        "str": "h\u00e9llo \u2603 \U0001F600 \\ 'q' \"d\" \n",
        "bytes": b"\x00\xff\n",
        "list": [1, [2, 3], []],
        "tuple": (1, "a", ()),
        "none": None,
        "t": True,
        "f": False,
        "empty": {},
        "nested": {"a": {"b": (None,)}},
        "shared": [shared, shared],
        "long_list": list(range(1500)),
    }


def plain_json(v):
    """The JSON form the tests compare against: tuples, bytes and big ints tagged."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {"int": str(v)}
    if isinstance(v, bytes):
        return {"bytes": list(v)}
    if isinstance(v, tuple):
        return {"tuple": [plain_json(x) for x in v]}
    if isinstance(v, list):
        return [plain_json(x) for x in v]
    return {k: plain_json(x) for k, x in v.items()}


def save_plain_pickles(folder):
    import pickle

    os.makedirs(folder)
    value = plain_value()
    for proto in range(6):
        with open(os.path.join(folder, f"plain-p{proto}.pkl"), "wb") as f:
            pickle.dump(value, f, protocol=proto)
    with open(os.path.join(folder, "plain.json"), "w") as f:
        json.dump(plain_json(value), f)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    sd = make_state_dict()
    save_zip(sd, os.path.join(OUT, "bin-zip", "pytorch_model.bin"))
    save_zip(sd, os.path.join(OUT, "bin-proto4", "pytorch_model.bin"), protocol=4)
    repack_deflated(os.path.join(OUT, "bin-zip", "pytorch_model.bin"), os.path.join(OUT, "bin-deflate", "pytorch_model.bin"))
    os.makedirs(os.path.join(OUT, "bin-legacy"))
    torch.save(sd, os.path.join(OUT, "bin-legacy", "pytorch_model.bin"), _use_new_zipfile_serialization=False)
    big = save_big_endian(os.path.join(OUT, "bin-bigendian", "pytorch_model.bin"))
    save_sharded_bin(sd, os.path.join(OUT, "bin-sharded"))
    st = collections.OrderedDict((n, t.detach()) for n, t in sd.items())
    write_safetensors(os.path.join(OUT, "st", "model.safetensors"), st)
    save_sharded_st(st, os.path.join(OUT, "st-sharded"))
    save_plain_pickles(os.path.join(OUT, "pickles"))
    pickles = evil_pickles()
    check_evil_pickles_are_what_they_claim(pickles)
    for name, data in pickles.items():
        zip_with_pickle(os.path.join(OUT, name, "pytorch_model.bin"), data)
    # Sanity: torch itself reads back what we claim (the evil ones are never loaded here).
    for folder in ("bin-zip", "bin-proto4", "bin-deflate", "bin-legacy"):
        back = torch.load(os.path.join(OUT, folder, "pytorch_model.bin"))
        for n, t in sd.items():
            assert torch.equal(back[n], t), (folder, n)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"tensors": expected_json(sd), "bigendian": big}, f, indent=1)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
