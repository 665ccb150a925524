"""Parse kernel module ELF images (bytes in, values out): .modinfo, FUNC symbols, and the live
patch a module registers (struct klp_patch/klp_object/klp_func, read through its relocations).

Hand-written on purpose: pyelftools (Debian python3-pyelftools) costs 140-420 ms to import here
against 10-40 ms for this module, and modules are parsed on the load path (rpm %posttrans)."""

import struct
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Tuple

ELF_MAGIC = b"\x7fELF"
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
ET_REL = 1

SHN_LORESERVE = 0xFF00
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_NOBITS = 8
STT_FUNC = 2
STT_SECTION = 3
# R_<arch>_64 (an absolute 64-bit address) on the 64-bit little-endian machines with live patching
ABS64 = {62: 1, 183: 257, 21: 38, 22: 22}  # x86_64, aarch64, ppc64le, s390x (big-endian: unused)
# Linux 6.1 (64-bit) struct layouts: klp_patch {mod, objs, states, replace}; klp_object {name,
# funcs, callbacks...} is 168 bytes; klp_func {old_name, new_func, old_sympos...} is 152 bytes.
KLP_PATCH_OBJS, KLP_PATCH_REPLACE = 8, 24
KLP_OBJECT_SIZE, KLP_FUNC_SIZE = 168, 152
MAX_KLP_ENTRIES = 4096  # entries visited in all (hostile files: bounded work)
MAX_KLP_CANDIDATES = 64  # structures whose first field is THIS_MODULE tried as klp_patch

# A live patch module's FUNC symbol ``<prefix><f>`` replaces kernel function ``<f>``
# (``livepatch_``: upstream samples; ``klpp_``: SUSE's klp-ccp output).
LIVEPATCH_PREFIXES = ("livepatch_", "klpp_")


class ModuleFormatError(ValueError):
    """The bytes are not a well-formed ELF relocatable kernel module."""


@dataclass(frozen=True)
class ModuleInfo:
    """What a kernel module says about itself.

    Attributes:
        fields: Every ``key=value`` entry of ``.modinfo`` in file order (keys may repeat).
        functions: Names of FUNC symbols in ``.symtab``, file order, without duplicates.
        sections: Names of every section, file order.
    """

    fields: Tuple[Tuple[str, str], ...]
    functions: Tuple[str, ...] = ()
    sections: Tuple[str, ...] = ()
    patch: Optional["KlpPatch"] = None

    def get(self, key: str) -> Optional[str]:
        """Return the first value of a ``.modinfo`` key.

        Args:
            key: The field name, e.g. ``"vermagic"``.

        Returns:
            The value of the first entry with that key, or None when there is none.
        """
        for k, v in self.fields:
            if k == key:
                return v
        return None

    @property
    def name(self) -> Optional[str]:
        """The module name from ``.modinfo`` (``name=``), or None."""
        return self.get("name")

    @property
    def vermagic(self) -> Optional[str]:
        """The kernel version magic string (``vermagic=``), or None."""
        return self.get("vermagic")

    @property
    def is_livepatch(self) -> bool:
        """True when the module declares itself a live patch (``livepatch=Y``)."""
        return self.get("livepatch") == "Y"


class KlpFunc(NamedTuple):
    """One ``struct klp_func``: the function replaced, its replacement, and its position."""

    old_name: str
    new_func: str
    sympos: int


class KlpPatch(NamedTuple):
    """The ``struct klp_patch`` a live patch module registers: ``objects`` maps each object
    (``vmlinux`` or a module name) to its functions, in array order."""

    replace: bool
    objects: Tuple[Tuple[str, Tuple[KlpFunc, ...]], ...]


class _Layout(NamedTuple):
    """Byte order and struct formats for one ELF class/encoding."""

    ehdr: struct.Struct  # e_type .. e_shstrndx (after e_ident)
    shdr: struct.Struct
    sym: struct.Struct
    is64: bool


def _layout(ei_class: int, ei_data: int) -> _Layout:
    end = "<" if ei_data == ELFDATA2LSB else ">"
    if ei_class == ELFCLASS64:
        return _Layout(
            ehdr=struct.Struct(end + "HHIQQQIHHHHHH"),
            shdr=struct.Struct(end + "IIQQQQIIQQ"),
            sym=struct.Struct(end + "IBBHQQ"),
            is64=True,
        )
    return _Layout(
        ehdr=struct.Struct(end + "HHIIIIIHHHHHH"),
        shdr=struct.Struct(end + "IIIIIIIIII"),
        sym=struct.Struct(end + "IIIBBH"),
        is64=False,
    )


class _Section(NamedTuple):
    name_off: int
    type: int
    offset: int
    size: int
    link: int
    entsize: int
    info: int = 0


def _cstring(table: bytes, offset: int, what: str) -> str:
    """Read a NUL-terminated string at ``offset`` of a string table section."""
    if offset >= len(table):
        raise ModuleFormatError(f"{what} name offset {offset} is outside its string table")
    end = table.find(b"\0", offset)
    if end < 0:
        raise ModuleFormatError(f"unterminated {what} name in string table")
    return table[offset:end].decode("utf-8", errors="replace")


def _section_data(data: bytes, sec: _Section) -> bytes:
    if sec.type == SHT_NOBITS:
        return b""
    return data[sec.offset:sec.offset + sec.size]


def _read_sections(data: bytes, lay: _Layout) -> Tuple[List[_Section], int]:
    """Parse the ELF header and section header table; return sections and e_shstrndx."""
    hdr_end = 16 + lay.ehdr.size
    if len(data) < hdr_end:
        raise ModuleFormatError("truncated ELF header")
    (e_type, _machine, _version, _entry, _phoff, e_shoff, _flags, e_ehsize,
     _phentsize, _phnum, e_shentsize, e_shnum, e_shstrndx) = lay.ehdr.unpack_from(data, 16)
    if e_type != ET_REL:
        raise ModuleFormatError(f"not a relocatable ELF object (e_type {e_type})")
    if e_ehsize < hdr_end:
        raise ModuleFormatError(f"bad ELF header size {e_ehsize}")
    if e_shoff == 0 or e_shnum == 0:
        raise ModuleFormatError("ELF file has no section header table")
    if e_shentsize < lay.shdr.size:
        raise ModuleFormatError(f"bad ELF section header entry size {e_shentsize}")
    # e_shnum is 16 bits, so at most 65535 entries: the loop below is bounded.
    if e_shoff > len(data) or e_shnum * e_shentsize > len(data) - e_shoff:
        raise ModuleFormatError("truncated ELF section header table")
    if e_shstrndx >= e_shnum or e_shstrndx >= SHN_LORESERVE:
        raise ModuleFormatError(f"bad section name string table index {e_shstrndx}")

    sections: List[_Section] = []
    for i in range(e_shnum):
        (sh_name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, sh_info,
         _align, sh_entsize) = lay.shdr.unpack_from(data, e_shoff + i * e_shentsize)
        if sh_type != SHT_NOBITS and i != 0:
            if sh_offset > len(data) or sh_size > len(data) - sh_offset:
                raise ModuleFormatError(f"section {i} extends past the end of the file")
        sections.append(_Section(sh_name, sh_type, sh_offset, sh_size, sh_link, sh_entsize,
                                 sh_info))
    if sections[e_shstrndx].type != SHT_STRTAB:
        raise ModuleFormatError("section name string table is not a string table")
    return sections, e_shstrndx


def _parse_modinfo(raw: bytes) -> Tuple[Tuple[str, str], ...]:
    fields: List[Tuple[str, str]] = []
    for entry in raw.split(b"\0"):
        if not entry:
            continue
        key, sep, value = entry.partition(b"=")
        if not sep:
            raise ModuleFormatError(".modinfo entry without '=': "
                                    + repr(entry[:40].decode("utf-8", errors="replace")))
        if not key:
            raise ModuleFormatError(".modinfo entry with an empty key")
        fields.append((key.decode("utf-8", errors="replace"),
                       value.decode("utf-8", errors="replace")))
    return tuple(fields)


def _parse_functions(data: bytes, lay: _Layout, sections: List[_Section]) -> Tuple[str, ...]:
    symtab = next((s for s in sections if s.type == SHT_SYMTAB), None)
    if symtab is None:
        return ()
    entsize = symtab.entsize or lay.sym.size
    if entsize < lay.sym.size:
        raise ModuleFormatError(f"bad symbol table entry size {symtab.entsize}")
    if symtab.link == 0 or symtab.link >= len(sections):
        raise ModuleFormatError(f"bad symbol string table index {symtab.link}")
    strsec = sections[symtab.link]
    if strsec.type != SHT_STRTAB:
        raise ModuleFormatError("symbol string table is not a string table")
    strtab = _section_data(data, strsec)

    seen: Dict[str, None] = {}
    # symtab.offset/size were bounds-checked, so count is bounded by len(data).
    for i in range(symtab.size // entsize):
        fields = lay.sym.unpack_from(data, symtab.offset + i * entsize)
        if lay.is64:
            st_name, st_info = fields[0], fields[1]
        else:
            st_name, st_info = fields[0], fields[3]
        if st_info & 0xF != STT_FUNC or st_name == 0:
            continue
        seen.setdefault(_cstring(strtab, st_name, "symbol"), None)
    return tuple(seen)


def parse_module(data: bytes) -> ModuleInfo:
    """Parse a kernel module image.

    Supports ELF32 and ELF64 in either byte order. Any byte string either parses or
    raises ModuleFormatError.

    Args:
        data: The complete contents of a ``.ko`` file (uncompressed).

    Returns:
        The ``.modinfo`` fields and the FUNC symbol names of ``.symtab`` (empty when
        the module has no symbol table).

    Raises:
        ModuleFormatError: The bytes are not a well-formed ELF relocatable kernel module.
    """
    data = bytes(data)
    if len(data) < 16 or data[:4] != ELF_MAGIC:
        raise ModuleFormatError("not an ELF file")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (ELFCLASS32, ELFCLASS64):
        raise ModuleFormatError(f"unknown ELF class {ei_class}")
    if ei_data not in (ELFDATA2LSB, ELFDATA2MSB):
        raise ModuleFormatError(f"unknown ELF data encoding {ei_data}")
    lay = _layout(ei_class, ei_data)

    sections, shstrndx = _read_sections(data, lay)
    shstrtab = _section_data(data, sections[shstrndx])

    modinfo: Optional[_Section] = None
    for sec in sections[1:]:
        if _cstring(shstrtab, sec.name_off, "section") == ".modinfo":
            modinfo = sec
            break
    if modinfo is None:
        raise ModuleFormatError("no .modinfo section")
    if modinfo.type == SHT_NOBITS:
        raise ModuleFormatError(".modinfo section has no contents")

    return ModuleInfo(
        fields=_parse_modinfo(_section_data(data, modinfo)),
        functions=_parse_functions(data, lay, sections),
        sections=tuple(_cstring(shstrtab, sec.name_off, "section") for sec in sections[1:]),
        patch=_parse_klp_patch(data, lay, sections),
    )


class _Symbol(NamedTuple):
    name: str
    info: int
    shndx: int
    value: int


def _symbols(data: bytes, lay: _Layout, sections: List[_Section]) -> List[_Symbol]:
    symtab = next((s for s in sections if s.type == SHT_SYMTAB), None)
    if symtab is None or not lay.is64 or symtab.link >= len(sections):
        return []
    entsize = symtab.entsize or lay.sym.size
    if entsize < lay.sym.size:
        return []
    strtab = _section_data(data, sections[symtab.link])
    found = []
    for i in range(symtab.size // entsize):
        st_name, st_info, _other, st_shndx, st_value, _size = \
            lay.sym.unpack_from(data, symtab.offset + i * entsize)
        name = _cstring(strtab, st_name, "symbol") if st_name else ""
        found.append(_Symbol(name, st_info, st_shndx, st_value))
    return found


def _parse_klp_patch(data: bytes, lay: _Layout, sections: List[_Section]) -> Optional[KlpPatch]:
    """Find the ``struct klp_patch`` (its ``mod`` is relocated against ``__this_module``) and
    follow its objects and functions, as the kernel does when the module registers it.

    None when the module has no such structure in the 6.1 layout (64-bit little-endian only)."""
    end = "<" if data[5] == ELFDATA2LSB else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    if not lay.is64 or end != "<" or machine not in ABS64:
        return None
    symbols = _symbols(data, lay, sections)
    functions = {(sym.shndx, sym.value): sym.name for sym in symbols if sym.info & 0xF == STT_FUNC}
    # relocs[section index][offset] = absolute address target as (section index, offset)
    relocs: Dict[int, Dict[int, Tuple[int, int, str]]] = {}
    rela = struct.Struct("<QQq")
    for sec in sections:
        if sec.type != SHT_RELA or sec.entsize != rela.size:
            continue
        target = relocs.setdefault(sec.info, {})
        for i in range(sec.size // rela.size):
            r_offset, r_info, r_addend = rela.unpack_from(data, sec.offset + i * rela.size)
            if r_info & 0xFFFFFFFF != ABS64[machine] or (r_info >> 32) >= len(symbols):
                continue
            sym = symbols[r_info >> 32]
            name = sym.name
            if sym.info & 0xF == STT_SECTION:  # static functions: "section + offset"
                name = functions.get((sym.shndx, sym.value + r_addend), "")
            target[r_offset] = (sym.shndx, sym.value + r_addend, name)

    def word(shndx: int, offset: int) -> Optional[int]:
        sec = sections[shndx] if 0 < shndx < len(sections) else None
        if sec is None or sec.type == SHT_NOBITS or offset < 0 or offset + 8 > sec.size:
            return None
        return int(struct.unpack_from("<Q", data, sec.offset + offset)[0])

    def string(ref: Tuple[int, int, str]) -> Optional[str]:
        sec = sections[ref[0]] if 0 < ref[0] < len(sections) else None
        if sec is None or sec.type == SHT_NOBITS or not 0 <= ref[1] < sec.size:
            return None
        raw = _section_data(data, sec)[ref[1]:]
        stop = raw.find(b"\0")
        return raw[:stop].decode("utf-8", "replace") if stop > 0 else None

    budget = [MAX_KLP_ENTRIES]

    def funcs(ref: Tuple[int, int, str]) -> Optional[Tuple[KlpFunc, ...]]:
        table = relocs.get(ref[0], {})
        found: List[KlpFunc] = []
        for i in range(MAX_KLP_ENTRIES):
            budget[0] -= 1
            if budget[0] < 0:
                return None
            at = ref[1] + i * KLP_FUNC_SIZE
            if at not in table and at + 8 not in table:  # the {} ending the array
                return tuple(found)  # empty: an object with callbacks only
            old, new, pos = table.get(at), table.get(at + 8), word(ref[0], at + 16)
            old_name = string(old) if old else None
            if old_name is None or new is None or pos is None:
                return None
            found.append(KlpFunc(old_name, new[2], pos))
        return None

    candidates = [(shndx, offset) for shndx, table in relocs.items()
                  for offset, (_s, _v, name) in sorted(table.items())
                  if name == "__this_module" and offset + KLP_PATCH_OBJS in table]
    for shndx, offset in candidates[:MAX_KLP_CANDIDATES]:
        table = relocs[shndx]
        objs = table[offset + KLP_PATCH_OBJS]
        flag = word(shndx, offset + KLP_PATCH_REPLACE)
        otable = relocs.get(objs[0], {})
        objects: List[Tuple[str, Tuple[KlpFunc, ...]]] = []
        for i in range(MAX_KLP_ENTRIES):
            at = objs[1] + i * KLP_OBJECT_SIZE
            budget[0] -= 1
            if at + 8 not in otable or budget[0] < 0:
                break
            oname = string(otable[at]) if at in otable else "vmlinux"
            ofuncs = funcs(otable[at + 8])
            if oname is None or ofuncs is None:
                objects = []
                break
            objects.append((oname, ofuncs))
        if objects and flag is not None:
            return KlpPatch(bool(flag & 0xFF), tuple(objects))
    return None


def patch_targets(info: ModuleInfo) -> Tuple[bool, Dict[str, List[str]]]:
    """Whether the module's patch replaces the others, and the functions it changes per object.

    Read from its ``struct klp_patch``; modules without one that can be read fall back to the
    naming convention of :func:`livepatch_functions` (as replace patches of vmlinux).
    """
    if info.patch is None:
        return True, {"vmlinux": list(livepatch_functions(info))}
    return info.patch.replace, {obj: [f.old_name for f in funcs] for obj, funcs in info.patch.objects}


def livepatch_functions(info: ModuleInfo) -> Tuple[str, ...]:
    """Name the kernel functions a live patch module replaces.

    By convention a replacement function is named ``livepatch_<f>`` (upstream kernel
    samples) or ``klpp_<f>`` (SUSE's klp-ccp output), where ``<f>`` is the kernel
    function it replaces. Other symbols are ignored.

    Args:
        info: A parsed module.

    Returns:
        The replaced kernel function names in symbol order, without duplicates.
    """
    found: Dict[str, None] = {}
    for sym in info.functions:
        for prefix in LIVEPATCH_PREFIXES:
            if sym.startswith(prefix) and len(sym) > len(prefix):
                found.setdefault(sym[len(prefix):], None)
                break
    return tuple(found)
