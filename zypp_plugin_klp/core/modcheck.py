"""Build-time checks of a live patch module (what SUSE's lp-mod-checks enforces), as messages."""

import re
from typing import List

from .elfmod import ModuleInfo

_JUMP_TABLE = re.compile(r"^\.klp\..*__jump_table")


def module_problems(info: ModuleInfo) -> List[str]:
    """Why the module must not be shipped as a live patch; empty when it may (or is no live patch).

    A live patch (``livepatch=Y``) must depend on no other module (the kernel resolves the
    patched objects' symbols itself) and must carry no ``.klp.*__jump_table`` section (static keys
    in patched modules are not relocated by klp).
    """
    if not info.is_livepatch:
        return []
    problems = []
    depends = [d for d in (info.get("depends") or "").split(",") if d]
    if depends:
        problems.append(f"a live patch must not depend on other modules (depends: {','.join(depends)})")
    tables = [s for s in info.sections if _JUMP_TABLE.match(s)]
    if tables:
        problems.append(f"a live patch must not carry {', '.join(tables)} (jump table relocations "
                        "into patched objects)")
    return problems
