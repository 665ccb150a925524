"""Parse a simulated-kernel scenario (YAML text) into a SimState; errors name file and line."""

from typing import Any, Dict, List, Optional

from ..errors import ScenarioError
from .model import FEATURES, LOAD_FAILURES, SimModule, SimPatch, SimState, SimThread


class _Doc:
    """Walks a composed YAML node tree, keeping line numbers for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Any, message: str) -> ScenarioError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ScenarioError(f"{self.source}:{line}: {message}")

    def mapping(self, node: Any, what: str, allowed: tuple) -> Dict[str, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        result: Dict[str, Any] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.value not in allowed:
                label = key.value if isinstance(key, yaml.ScalarNode) else None
                raise self.fail(key, f"unknown key {label!r} in {what} (allowed: {', '.join(allowed)})")
            name = str(key.value)
            if name in result:
                raise self.fail(key, f"duplicate key {name!r} in {what}")
            result[name] = value
        return result

    def sequence(self, node: Any, what: str) -> List[Any]:
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def text(self, node: Any, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.value == "" or "\0" in node.value:
            raise self.fail(node, f"{what} must be a non-empty string")
        return str(node.value)

    def integer(self, node: Any, what: str, minimum: int = 0) -> int:
        try:
            value = int(self.text(node, what))
        except ValueError:
            raise self.fail(node, f"{what} must be an integer") from None
        if value < minimum or value > 4194304:
            raise self.fail(node, f"{what} must be between {minimum} and 4194304")
        return value

    def boolean(self, node: Any, what: str) -> bool:
        value = self.text(node, what).lower()
        if value not in ("true", "false", "yes", "no"):
            raise self.fail(node, f"{what} must be true or false")
        return value in ("true", "yes")

    def words(self, node: Any, what: str) -> List[str]:
        import yaml

        if isinstance(node, yaml.ScalarNode):
            return node.value.split()
        return [self.text(item, what) for item in self.sequence(node, what)]


def parse_scenario(text: str, source: str = "<scenario>") -> SimState:
    """Build the initial simulated kernel from a scenario document.

    Raises:
        ScenarioError: ``source:line: reason`` for YAML syntax errors and invalid values.
    """
    import yaml

    doc = _Doc(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(f"{source}:{line}: invalid YAML: {reason}") from None
    if root is None:
        raise ScenarioError(f"{source}:1: empty scenario")
    top = doc.mapping(root, "the scenario", ("kernel", "processes", "patches"))
    if "kernel" not in top:
        raise doc.fail(root, "missing 'kernel'")
    kernel = doc.mapping(top["kernel"], "kernel", ("release", "arch", "vermagic", "features",
                                                   "ftrace", "modules", "load_failures",
                                                   "dynamic_debug"))
    if "release" not in kernel:
        raise doc.fail(top["kernel"], "kernel needs a 'release'")
    features = doc.words(kernel["features"], "kernel.features") if "features" in kernel else []
    for feature in features:
        if feature not in FEATURES:
            raise doc.fail(kernel["features"], f"unknown feature {feature!r} "
                                               f"(known: {', '.join(FEATURES)})")
    state = SimState(
        release=doc.text(kernel["release"], "kernel.release"),
        arch=doc.text(kernel["arch"], "kernel.arch") if "arch" in kernel else "x86_64",
        vermagic=doc.text(kernel["vermagic"], "kernel.vermagic") if "vermagic" in kernel else "",
        features=features,
        ftrace=doc.boolean(kernel["ftrace"], "kernel.ftrace") if "ftrace" in kernel else True,
        targets=doc.words(kernel["modules"], "kernel.modules") if "modules" in kernel else [],
        dyndbg=doc.boolean(kernel["dynamic_debug"], "kernel.dynamic_debug")
        if "dynamic_debug" in kernel else False,
    )
    if "load_failures" in kernel:
        state.failures = _load_failures(doc, kernel["load_failures"])
    for node in doc.sequence(top["processes"], "processes") if "processes" in top else []:
        _add_process(doc, state, node)
    for index, node in enumerate(doc.sequence(top["patches"], "patches") if "patches" in top else []):
        fields = doc.mapping(node, "a patch", ("name", "functions", "replace", "objects"))
        if "name" not in fields:
            raise doc.fail(node, "a patch needs a 'name'")
        name = doc.text(fields["name"], "patch name")
        functions = doc.words(fields["functions"], "functions") if "functions" in fields else []
        replace = doc.boolean(fields["replace"], "replace") if "replace" in fields else True
        objects = {}
        if "objects" in fields:
            for key, value in doc.mapping(fields["objects"], "objects", _AnyKey()).items():
                objects[key] = doc.words(value, f"objects.{key}")
        declared = "vmlinux" in objects  # {vmlinux: []}: a vmlinux object without functions
        functions += objects.pop("vmlinux", [])
        patch = SimPatch(name, functions, replace=replace, stack_order=index + 1, objects=objects,
                         vmlinux=declared)
        state.patches.append(patch)
        state.modules[name] = SimModule(name, "", [f for fs in patch.targets().values() for f in fs])
    return state


class _AnyKey(tuple):
    """Allows any key (object names of a patch)."""

    def __contains__(self, _item: object) -> bool:
        return True


def _load_failures(doc: _Doc, node: Any) -> Dict[str, List[Any]]:
    """``{module: {pre_patch: ENODEV}}`` or ``{module: klp_state}`` -> module -> [kind, errno]."""
    import errno
    import yaml

    result: Dict[str, List[Any]] = {}
    for module, value in doc.mapping(node, "kernel.load_failures", _AnyKey()).items():
        if isinstance(value, yaml.ScalarNode) and value.value == "klp_state":
            result[module] = ["klp_state", errno.EINVAL]
            continue
        fields = doc.mapping(value, f"load_failures.{module}", ("pre_patch",))
        if "pre_patch" not in fields:
            raise doc.fail(value, f"load_failures.{module} needs 'pre_patch' or is 'klp_state'")
        code = doc.text(fields["pre_patch"], "pre_patch")
        number = getattr(errno, code, None) if code.isupper() else None
        if not isinstance(number, int):
            raise doc.fail(fields["pre_patch"], f"pre_patch must be an errno name like ENODEV")
        result[module] = ["pre_patch", number]
    assert all(kind in LOAD_FAILURES for kind, _ in result.values())
    return result


def _add_process(doc: _Doc, state: SimState, node: Any) -> None:
    fields = doc.mapping(node, "a process", ("pid", "comm", "cmdline", "threads", "stack",
                                             "wakes_on_signal"))
    if "pid" not in fields or "comm" not in fields:
        raise doc.fail(node, "a process needs 'pid' and 'comm'")
    pid = doc.integer(fields["pid"], "pid", 1)
    comm = doc.text(fields["comm"], "comm")
    cmdline = doc.words(fields["cmdline"], "cmdline") if "cmdline" in fields else []
    threads: List[Optional[Any]] = list(doc.sequence(fields["threads"], "threads")) \
        if "threads" in fields else [None]
    for tnode in threads:
        tfields = doc.mapping(tnode, "a thread", ("tid", "comm", "stack", "wakes_on_signal")) \
            if tnode is not None else {}
        merged = {**{k: v for k, v in fields.items() if k in ("stack", "wakes_on_signal")}, **tfields}
        tid = doc.integer(tfields["tid"], "tid", 1) if "tid" in tfields else pid
        if tid in state.threads:
            raise doc.fail(tnode if tnode is not None else node, f"duplicate tid {tid}")
        state.threads[tid] = SimThread(
            pid=pid, tid=tid,
            comm=doc.text(tfields["comm"], "comm") if "comm" in tfields else comm,
            cmdline=cmdline,
            stack=doc.words(merged["stack"], "stack") if "stack" in merged else [],
            wakes_on_signal=doc.boolean(merged["wakes_on_signal"], "wakes_on_signal")
            if "wakes_on_signal" in merged else False,
        )
