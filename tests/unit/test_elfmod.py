"""Tests for zypp_plugin_klp.core.elfmod against modules built by fixtures/kobuild.py."""

import dataclasses
import os
import random
import struct
import subprocess
import sys
from typing import Callable, List, Optional, Tuple

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "fixtures"))
if REPO not in sys.path:  # also work under a bare `pytest` (no conftest, no pythonpath)
    sys.path.insert(1, REPO)

import kobuild  # noqa: E402

from zypp_plugin_klp.core.elfmod import (  # noqa: E402
    ModuleFormatError,
    ModuleInfo,
    livepatch_functions,
    parse_module,
)

MODINFO_BIN = "/sbin/modinfo"
FUNCTIONS = ["livepatch_cmdline_proc_show", "klpp_do_foo", "helper"]
EXTRA_FIELDS = [("alias", "a1"), ("alias", "a2"), ("description", "x=y with spaces")]


def _valid(**kw: object) -> bytes:
    kw.setdefault("functions", FUNCTIONS)
    return kobuild.build_module("klp_test", **kw)  # type: ignore[arg-type]


VALID = _valid(fields=EXTRA_FIELDS)


# --- round trip ---------------------------------------------------------------------

def test_round_trip_fields_and_functions() -> None:
    info = parse_module(VALID)
    assert info.fields == (
        ("license", "GPL"),
        ("livepatch", "Y"),
        ("alias", "a1"),
        ("alias", "a2"),
        ("description", "x=y with spaces"),
        ("depends", ""),
        ("retpoline", "Y"),
        ("name", "klp_test"),
        ("vermagic", kobuild.DEFAULT_VERMAGIC),
    )
    assert info.name == "klp_test"
    assert info.vermagic == "6.1.0-26-amd64 SMP preempt mod_unload modversions"
    assert info.is_livepatch is True
    assert info.get("alias") == "a1"
    assert info.get("description") == "x=y with spaces"
    assert info.get("nonexistent") is None
    assert info.functions == tuple(FUNCTIONS)
    assert livepatch_functions(info) == ("cmdline_proc_show", "do_foo")


def test_round_trip_not_livepatch_without_vermagic() -> None:
    info = parse_module(kobuild.build_module("plain", livepatch=False, vermagic=None))
    assert info.is_livepatch is False
    assert info.get("livepatch") is None
    assert info.vermagic is None
    assert info.name == "plain"
    assert info.functions == ()
    assert livepatch_functions(info) == ()


def test_functions_deduplicated_in_file_order() -> None:
    data = kobuild.build_module("dup", functions=["klpp_b", "klpp_a", "klpp_b", "x"])
    info = parse_module(data)
    assert info.functions == ("klpp_b", "klpp_a", "x")
    assert livepatch_functions(info) == ("b", "a")


def test_livepatch_functions_convention() -> None:
    info = ModuleInfo(fields=(), functions=(
        "livepatch_", "klpp_", "klpp_x", "livepatch_x", "mylivepatch_y", "klpp_klpp_z"))
    # bare prefixes are not functions; a second symbol for x adds nothing new
    assert livepatch_functions(info) == ("x", "klpp_z")


def test_module_info_is_frozen() -> None:
    info = parse_module(VALID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.fields = ()  # type: ignore[misc]


def test_builder_this_module_and_cli(tmp_path: "os.PathLike[str]") -> None:
    out = os.path.join(str(tmp_path), "cli.ko")
    rc = kobuild.main([out, "klp_cli", "--not-livepatch", "--vermagic", "5.14.21 SMP",
                       "--function", "klpp_a", "--function", "b", "--field", "k=v=w"])
    assert rc == 0
    with open(out, "rb") as f:
        data = f.read()
    info = parse_module(data)
    assert info.name == "klp_cli"
    assert info.is_livepatch is False
    assert info.vermagic == "5.14.21 SMP"
    assert info.get("k") == "v=w"
    assert info.functions == ("klpp_a", "b")
    # .gnu.linkonce.this_module carries the name at offset 0x18
    shoff, = struct.unpack_from("<Q", data, 0x28)
    sh = shoff + kobuild.THIS_MODULE * kobuild.SHDR.size
    off, size = struct.unpack_from("<QQ", data, sh + 24)
    assert size == 0x380
    assert data[off + 0x18:off + 0x18 + 8] == b"klp_cli\0"


# --- cross-check with kmod's modinfo -----------------------------------------------

def _modinfo_field(path: str, field: str) -> List[str]:
    proc = subprocess.run([MODINFO_BIN, "-F", field, path], capture_output=True,
                          text=True, check=True)
    return proc.stdout.splitlines()


@pytest.mark.needs(MODINFO_BIN)
@pytest.mark.parametrize("livepatch", [True, False], ids=["livepatch", "plain"])
def test_agrees_with_kmod_modinfo(tmp_path: "os.PathLike[str]", livepatch: bool) -> None:
    path = kobuild.write_module(os.path.join(str(tmp_path), "other-file-name.ko"),
                                "klp_kmod", functions=FUNCTIONS, fields=EXTRA_FIELDS,
                                livepatch=livepatch)
    with open(path, "rb") as f:
        info = parse_module(f.read())
    assert _modinfo_field(path, "vermagic") == [info.vermagic]
    assert _modinfo_field(path, "name") == [info.name] == ["klp_kmod"]
    assert _modinfo_field(path, "livepatch") == (["Y"] if livepatch else [])
    assert info.is_livepatch is livepatch
    assert _modinfo_field(path, "alias") == [v for k, v in info.fields if k == "alias"]


# --- hand-made big-endian ELF32 -----------------------------------------------------

def _elf32(end: str) -> bytes:
    """An ELF32 ET_REL object (PowerPC) with .modinfo, .symtab, .strtab, .shstrtab."""
    modinfo = (b"license=GPL\0\0\0livepatch=Y\0name=be32\0"
               b"vermagic=4.19.0 mod_unload\0\0\0\0")
    strtab = b"\0klpp_foo\0data_obj\0livepatch_bar\0untyped\0"

    def sym(name: bytes, info: int) -> bytes:
        return struct.pack(end + "IIIBBH", strtab.index(name + b"\0"), 0, 4, info, 0, 1)

    symtab = (bytes(16)
              + sym(b"klpp_foo", 0x12)        # GLOBAL FUNC
              + sym(b"data_obj", 0x11)        # GLOBAL OBJECT
              + sym(b"livepatch_bar", 0x02)   # LOCAL FUNC
              + sym(b"klpp_foo", 0x12)        # duplicate
              + sym(b"untyped", 0x10))        # GLOBAL NOTYPE
    shstrtab = b"\0.modinfo\0.symtab\0.strtab\0.shstrtab\0"
    blobs = [modinfo, symtab, strtab, shstrtab]
    offsets = []
    body = bytearray(52)
    for blob in blobs:
        body += bytes(-len(body) % 4)
        offsets.append(len(body))
        body += blob
    body += bytes(-len(body) % 4)
    shoff = len(body)

    def shdr(name: bytes, typ: int, i: int, link: int = 0, entsize: int = 0) -> bytes:
        return struct.pack(end + "IIIIIIIIII", shstrtab.index(name + b"\0"), typ, 0, 0,
                           offsets[i], len(blobs[i]), link, 0, 4, entsize)

    body += bytes(40)
    body += shdr(b".modinfo", 1, 0)
    body += shdr(b".symtab", 2, 1, link=3, entsize=16)
    body += shdr(b".strtab", 3, 2)
    body += shdr(b".shstrtab", 3, 3)
    ident = b"\x7fELF" + bytes([1, 2 if end == ">" else 1, 1]) + bytes(9)
    body[:52] = ident + struct.pack(end + "HHIIIIIHHHHHH", 1, 20, 1, 0, 0, shoff, 0,
                                    52, 0, 0, 40, 5, 4)
    return bytes(body)


@pytest.mark.parametrize("end", [">", "<"], ids=["big-endian", "little-endian"])
def test_elf32(end: str) -> None:
    data = _elf32(end)
    assert data[4:6] == (b"\x01\x02" if end == ">" else b"\x01\x01")
    info = parse_module(data)
    assert info.fields == (("license", "GPL"), ("livepatch", "Y"), ("name", "be32"),
                           ("vermagic", "4.19.0 mod_unload"))
    assert info.functions == ("klpp_foo", "livepatch_bar")
    assert livepatch_functions(info) == ("foo", "bar")


def test_elf32_wrong_byte_order_rejected() -> None:
    data = bytearray(_elf32(">"))
    data[5] = 1  # claim little-endian
    with pytest.raises(ModuleFormatError):
        parse_module(bytes(data))


# --- malformed input ----------------------------------------------------------------

def _shdr_pos(data: bytes, index: int) -> int:
    shoff, = struct.unpack_from("<Q", data, 0x28)
    return shoff + index * kobuild.SHDR.size


def _patch(data: bytes, pos: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, value)
    return bytes(out)


def _set_shdr(index: int, field_pos: int, fmt: str, value: Callable[[bytes], int]
              ) -> Callable[[bytes], bytes]:
    return lambda d: _patch(d, _shdr_pos(d, index) + field_pos, fmt, value(d))


SH_NAME, SH_OFFSET, SH_SIZE, SH_LINK = 0, 24, 32, 40

BAD: List[Tuple[str, Callable[[bytes], bytes], Optional[str]]] = [
    ("empty", lambda d: b"", "not an ELF file"),
    ("magic-only", lambda d: b"\x7fELF", "not an ELF file"),
    ("random", lambda d: random.Random(7).randbytes(2048), "not an ELF file"),
    ("magic-random-tail",
     lambda d: b"\x7fELF\x02\x01\x01" + random.Random(8).randbytes(300), None),
    ("bad-class", lambda d: d[:4] + b"\x03" + d[5:], "ELF class"),
    ("bad-data-encoding", lambda d: d[:5] + b"\x00" + d[6:], "data encoding"),
    ("not-ET_REL", lambda d: _patch(d, 16, "<H", 2), "relocatable"),
    ("shoff-past-end", lambda d: _patch(d, 0x28, "<Q", len(d)), "section header table"),
    ("shoff-huge", lambda d: _patch(d, 0x28, "<Q", 2**64 - 8), "section header table"),
    ("shentsize-too-small", lambda d: _patch(d, 0x3a, "<H", 8), "entry size"),
    ("huge-e_shnum", lambda d: _patch(d, 0x3c, "<H", 0xFFFF), "section header table"),
    ("zero-e_shnum", lambda d: _patch(d, 0x3c, "<H", 0), "no section header table"),
    ("shstrndx-out-of-range", lambda d: _patch(d, 0x3e, "<H", kobuild.RELA_DATA + 1),
     "string table index"),
    ("shstrndx-not-strtab", lambda d: _patch(d, 0x3e, "<H", kobuild.TEXT),
     "not a string table"),
    ("modinfo-offset-past-end",
     _set_shdr(kobuild.MODINFO, SH_OFFSET, "<Q", lambda d: len(d)), "past the end"),
    ("modinfo-size-past-end",
     _set_shdr(kobuild.MODINFO, SH_SIZE, "<Q", lambda d: 2**63), "past the end"),
    ("symtab-offset-past-end",
     _set_shdr(kobuild.SYMTAB, SH_OFFSET, "<Q", lambda d: 2**64 - 1), "past the end"),
    ("shstrtab-size-past-end",
     _set_shdr(kobuild.SHSTRTAB, SH_SIZE, "<Q", lambda d: len(d)), "past the end"),
    ("section-name-out-of-range",
     _set_shdr(kobuild.TEXT, SH_NAME, "<I", lambda d: 0xFFFFFFFF), "outside"),
    ("symtab-link-out-of-range",
     _set_shdr(kobuild.SYMTAB, SH_LINK, "<I", lambda d: 99), "symbol string table"),
    ("symtab-link-not-strtab",
     _set_shdr(kobuild.SYMTAB, SH_LINK, "<I", lambda d: kobuild.MODINFO),
     "not a string table"),
    ("strtab-unterminated",  # cut the NUL after the last symbol name
     _set_shdr(kobuild.STRTAB, SH_SIZE, "<Q",
               lambda d: struct.unpack_from("<Q", d, _shdr_pos(d, kobuild.STRTAB) + 32)[0] - 1),
     "unterminated symbol name"),
    ("modinfo-entry-without-equals",
     lambda d: d.replace(b"\0retpoline=Y\0", b"\0retpolineXY\0"), "without '='"),
    ("modinfo-empty-key", lambda d: d.replace(b"\0retpoline=Y\0", b"\0=retpolineY\0"),
     "empty key"),
    ("no-modinfo", lambda d: d.replace(b"\0.modinfo\0", b"\0.modinfX\0"), "no .modinfo"),
] + [
    (f"truncated-at-{n}", (lambda n: lambda d: d[:n])(n), "not an ELF file|truncated")
    for n in range(0, len(VALID), 97)
]


@pytest.mark.parametrize("mutate,match", [(m, r) for _, m, r in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_input_raises_module_format_error(mutate: Callable[[bytes], bytes],
                                              match: Optional[str]) -> None:
    data = mutate(VALID)
    assert data != VALID
    with pytest.raises(ModuleFormatError, match=match) as excinfo:
        parse_module(data)
    message = str(excinfo.value)
    assert message and "\n" not in message
    assert isinstance(excinfo.value, ValueError)


def test_valid_base_for_bad_inputs_parses() -> None:
    # The malformed cases above are single edits of this module; it must itself parse.
    assert parse_module(VALID).name == "klp_test"
    assert parse_module(bytearray(VALID)).fields == parse_module(VALID).fields


def test_random_mutations_parse_or_raise_module_format_error() -> None:
    rng = random.Random(0x6B6C70)
    shoff, = struct.unpack_from("<Q", VALID, 0x28)
    parsed = rejected = 0
    for i in range(2000):
        data = bytearray(VALID)
        kind = i % 4
        if kind == 0:    # one byte anywhere
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:  # a few bytes anywhere
            for _ in range(rng.randint(2, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:  # a random 1..8 byte value in the ELF header or section headers
            pos = rng.choice([rng.randrange(64), rng.randrange(shoff, len(data))])
            width = rng.choice([1, 2, 4, 8])
            pos = min(pos, len(data) - width)
            data[pos:pos + width] = rng.randbytes(width)
        else:            # a byte flip inside a section's contents
            pos = rng.randrange(64, shoff)
            data[pos] ^= 1 << rng.randrange(8)
        try:
            info = parse_module(bytes(data))
        except ModuleFormatError:
            rejected += 1
            continue
        except Exception as e:  # noqa: BLE001 - anything else is the bug under test
            pytest.fail(f"mutation {i} raised {type(e).__name__}: {e}")
        parsed += 1
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.fields)
        assert all(isinstance(f, str) and f for f in info.functions)
        assert len(set(info.functions)) == len(info.functions)
    assert parsed + rejected == 2000
    # both outcomes must be exercised, or the loop tests nothing
    assert parsed > 100
    assert rejected > 100


def test_klp_patch_is_read_through_relocations() -> None:
    from zypp_plugin_klp.core.elfmod import KlpFunc, patch_targets

    data = kobuild.build_module(
        "lp", functions=["new_show", "patched_work", "lp_init"], replace=False,
        objects=[(None, [("cmdline_proc_show", "new_show", 0)]),
                 ("busymod", [("busymod_work_func", "patched_work", 2)])])
    info = parse_module(data)
    assert info.patch is not None and info.patch.replace is False
    assert info.patch.objects == (
        ("vmlinux", (KlpFunc("cmdline_proc_show", "new_show", 0),)),
        ("busymod", (KlpFunc("busymod_work_func", "patched_work", 2),)))
    assert patch_targets(info) == (False, {"vmlinux": ["cmdline_proc_show"],
                                           "busymod": ["busymod_work_func"]})


def test_module_without_klp_patch_falls_back_to_the_naming_convention() -> None:
    from zypp_plugin_klp.core.elfmod import patch_targets

    info = parse_module(kobuild.build_module("lp", functions=["livepatch_f", "x"], objects=[]))
    assert info.patch is None
    assert patch_targets(info) == (True, {"vmlinux": ["f"]})


def test_a_klp_func_with_a_bad_string_reference_drops_the_structure() -> None:
    """Hostile relocations (a string outside its section) never raise; the fallback applies."""
    data = bytearray(kobuild.build_module("lp", functions=["livepatch_f"]))
    info = parse_module(bytes(data))
    assert info.patch is not None
    # point every .rela.data addend far outside .rodata
    ehdr = kobuild.EHDR.unpack_from(data, 0)
    shoff = ehdr[6]
    sh = kobuild.SHDR.unpack_from(data, shoff + kobuild.RELA_DATA * kobuild.SHDR.size)
    for i in range(sh[5] // kobuild.RELA.size):
        at = sh[4] + i * kobuild.RELA.size
        off, rinfo, _add = kobuild.RELA.unpack_from(data, at)
        kobuild.RELA.pack_into(data, at, off, rinfo, 1 << 40)
    assert parse_module(bytes(data)).patch is None
