"""Render ``zypper lifecycle`` reports in SUSE's format (and XML for --save, JSON for --json)."""

from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .lifecycle import NA, NEVER, Package, Product, format_eol

PRODUCT_FMT = "{:<55} {}\n"
PACKAGE_FMT = "{:<40} {:<40} {}\n"
SUSE_URL = "\n*) See https://www.suse.com/lifecycle for latest information"
OPENSUSE_URL = "\n*) See https://en.opensuse.org/Lifetime for latest information"


def quoteattr(value: str) -> str:
    """An XML attribute value in double quotes (xml.sax.saxutils would import urllib: 20 ms)."""
    return '"' + value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;") \
        .replace("\t", "&#9;") + '"'


class Marks:
    """Which vendor footnotes a report needs (an ``n/a*`` for a SUSE or openSUSE product)."""

    def __init__(self) -> None:
        self.vendors: Set[str] = set()

    def eol(self, eol: int, vendor: str = "") -> str:
        text = format_eol(eol)
        if eol == NA:
            for prefix in ("openSUSE", "SUSE"):
                if vendor.startswith(prefix):
                    self.vendors.add(prefix)
                    return text + "*"
        return text

    def footer(self) -> str:
        return (SUSE_URL if "SUSE" in self.vendors else "") + \
               (OPENSUSE_URL if "openSUSE" in self.vendors else "") + "\n"


def _products(products: Sequence[Product], msg: str, marks: Marks) -> str:
    out = []
    for label, wanted in (("Product", lambda p: p.isbase), ("Module", lambda p: p.flavor == "module"),
                          ("Extension", lambda p: p.flavor == "extension")):
        chosen = [p for p in products if wanted(p)]
        if not chosen:
            continue
        chosen = [t[-1] for t in sorted((p.codestream, p.eol, i, p) for i, p in enumerate(chosen))]
        out.append("\n" + PRODUCT_FMT.format(f"{label} {msg}", ""))
        printed: Optional[str] = None
        for p in chosen:
            if p.codestream:
                if p.codestream != printed:
                    out.append(PRODUCT_FMT.format("Codestream: " + p.codestream,
                                                  marks.eol(p.codestream_eol, p.vendor)))
                    printed = p.codestream
                out.append(PRODUCT_FMT.format("   Product: " + p.summary, marks.eol(p.eol, p.vendor)))
            else:
                out.append(PRODUCT_FMT.format(p.summary, marks.eol(p.eol, p.vendor)))
                printed = None
    return "".join(out)


def package_line(p: Package, marks: Marks) -> str:
    """One package row: name[-version spec], end of support, installed/update or successor."""
    up, up_eol = "", ""
    if p.successor:
        up = f", installed {p.edition}, successor available {p.successor}"
    elif p.update:
        up = f", installed {p.edition}, update available {p.update}"
        if p.update_eol is not None and p.update_eol < NA:
            up_eol = marks.eol(p.update_eol)
    name = p.name + (f"-{p.version_specified}" if p.version_specified not in (None, "*") else "")
    return PACKAGE_FMT.format(name, marks.eol(p.eol) + up, up_eol)


def _sorted(packages: Iterable[Package]) -> List[Package]:
    return [p for _, _, p in sorted((p.eol, i, p) for i, p in enumerate(packages))]


def report(products: Sequence[Product], packages: Sequence[Package],
           since: Optional[str] = None) -> Tuple[str, bool]:
    """The full report; returns (text, whether it is empty)."""
    marks = Marks()
    out = [f"Reporting changes since {since}\n"] if since else []
    out.append(_products(products, "end of general support", marks) if products else
               "\nNo products" + (f" changed since {since}" if since else "") + ".\n")
    if packages:
        out.append("\nPackage end of support if different from product:\n")
        out += [package_line(p, marks) for p in _sorted(packages)]
    else:
        out.append("\nNo packages with end of support different from product" +
                   (f" changed since {since}" if since else "") + ".\n")
    out.append(marks.footer())
    return "".join(out), not products and not packages


def deadline(products: Sequence[Product], packages: Sequence[Package], any_package_due: bool,
             date_text: str, since: Optional[str] = None) -> Tuple[str, bool]:
    """The ``--days``/``--date`` report: what ends before ``date_text``; (text, empty)."""
    marks = Marks()
    out = [f"Reporting changes since {since}\n"] if since else []
    out.append(_products(products, f"end of general support before {date_text}", marks) if products
               else f"\nNo products whose support ends before {date_text}.\n")
    if not any_package_due:
        out.append(f"\nNo packages whose support ends before {date_text}.\n")
    elif packages:
        out.append(f"\nPackage end of support before {date_text}:\n")
        out += [package_line(p, marks) for p in _sorted(packages)]
    else:
        out.append("\nNo packages with end of support different from product.\n")
    out.append(marks.footer())
    return "".join(out), not products and not packages


def packages_report(names: Sequence[str], installed: Dict[str, List[Package]]) -> Tuple[str, bool]:
    """``zypper lifecycle PACKAGE...``; returns (text, whether one was not installed)."""
    marks = Marks()
    out = ["\nPackage end of support:\n"]
    missing = False
    for name in names:
        if name not in installed:
            out.append(f"{name} is not installed\n")
            missing = True
        else:
            out += [package_line(p, marks) for p in installed[name]]
    out.append(marks.footer())
    return "".join(out), missing


def save_xml(products: Sequence[Product], packages: Sequence[Package], date: str) -> str:
    """The ``--save`` report: what ``--diff`` compares against later."""
    lines = [f"<report date={quoteattr(date)}>"]
    lines += [f"    <product name={quoteattr(p.name)} eol='{p.eol}'/>" for p in products]
    lines += [f"    <package name={quoteattr(p.name)} edition={quoteattr(p.edition)} eol='{p.eol}'/>"
              for p in packages]
    return "\n".join(lines + ["</report>"]) + "\n"


def load_saved(text: str) -> Tuple[str, Dict[str, int], Set[Tuple[str, str, int]]]:
    """(report date, product name -> eol, {(package, edition, eol)}) of a saved report."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
        products = {e.get("name", ""): int(e.get("eol", "-1")) for e in root.iter("product")}
        packages = {(e.get("name", ""), e.get("edition", ""), int(e.get("eol", "-1")))
                    for e in root.iter("package")}
    except (ET.ParseError, ValueError) as exc:
        raise ValueError(f"not a saved lifecycle report ({exc})") from None
    return root.get("date", "?"), products, packages


def report_json(products: Sequence[Product], packages: Sequence[Package], errors: Sequence[str],
                date_text: Optional[str]) -> str:
    """``--json`` (schema zypper-lifecycle/1): end-of-life values as dates, "now", "never" or "n/a"."""
    import json

    def value(eol: Optional[int]) -> Optional[str]:
        if eol is None:
            return None
        return {0: "now", NEVER: "never", NA: "n/a"}.get(eol) or format_eol(eol)

    return json.dumps({
        "schema": "zypper-lifecycle/1",
        "before": date_text,
        "products": [{"name": p.name, "summary": p.summary, "eol": value(p.eol),
                      "flavor": p.flavor or ("base" if p.isbase else None)} for p in products],
        "packages": [{"name": p.name, "installed": p.edition, "arch": p.arch, "eol": value(p.eol),
                      "update": p.update, "update_eol": value(p.update_eol),
                      "successor": p.successor} for p in _sorted(packages)],
        "errors": list(errors),
    }, indent=2, sort_keys=True) + "\n"
