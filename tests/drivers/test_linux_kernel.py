"""The real Linux driver: errno mapping, preflight checks, sysfs writes (on a plain tree)."""

import errno
import os

import pytest

from zypp_plugin_klp.drivers.linux import LinuxKernel
from zypp_plugin_klp.errors import KernelError

from conftest import VERMAGIC

LOAD_MESSAGES = {
    errno.EEXIST: "is already loaded (EEXIST)",
    errno.EBUSY: "another live patch transition is in progress (livepatch_1_1_1); wait for 'klp status' to "
                 "say ready (EBUSY)",
    errno.ENOEXEC: "does not fit the running kernel (bad ELF, or vermagic/symbol versions differ) (ENOEXEC)",
    errno.EKEYREJECTED: "its signature is not trusted by the kernel (EKEYREJECTED)",
    errno.EPERM: "module loading is not permitted (lockdown, signature policy or missing CAP_SYS_MODULE) (EPERM)",
    errno.ENOENT: "needs symbols the running kernel does not have (ENOENT)",
    errno.ENOMEM: "not enough memory to load livepatch_1_1_1 (ENOMEM)",
}


@pytest.fixture
def plain_root(tmp_path):
    """A plain directory laid out like a kernel's sysfs/proc, not written by the simulator."""
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/osrelease").write_text("6.1.0-26-default\n")
    patch = tmp_path / "sys/kernel/livepatch/livepatch_1_1_1"
    patch.mkdir(parents=True)
    (patch / "enabled").write_text("1\n")
    (patch / "transition").write_text("1\n")
    (patch / "force").write_text("")
    return tmp_path


@pytest.mark.parametrize("code, words", sorted(LOAD_MESSAGES.items()))
def test_every_load_errno_has_a_clear_message(plain_root, build_ko, mocker, code, words):
    kernel = LinuxKernel(str(plain_root))
    mocker.patch.object(kernel, "_syscall", side_effect=OSError(code, os.strerror(code)))
    with pytest.raises(KernelError) as exc:
        kernel.load(build_ko("livepatch_1_1_1"))
    assert exc.value.errno == code
    assert str(exc.value).endswith(words) and "\n" not in str(exc.value)


def test_finit_module_gets_an_open_descriptor_of_the_file(plain_root, build_ko, mocker):
    kernel = LinuxKernel(str(plain_root))
    seen = []

    def fake(which, fd, params, flags):
        seen.append((which, os.readlink(f"/proc/self/fd/{fd.value}"), params.value, flags.value))

    mocker.patch.object(kernel, "_syscall", side_effect=fake)
    path = build_ko("livepatch_1_1_1")
    assert kernel.load(path) == "livepatch_1_1_1"
    assert seen == [(0, path, b"", 0)]


def test_preflight_refuses_before_any_syscall(plain_root, build_ko, mocker):
    kernel = LinuxKernel(str(plain_root))
    syscall = mocker.patch.object(kernel, "_syscall")
    with pytest.raises(KernelError, match="built for kernel 5.3.18-24.34-default"):
        kernel.load(build_ko("lp", vermagic="5.3.18-24.34-default SMP mod_unload"))
    with pytest.raises(KernelError, match="not a live patch module"):
        kernel.load(build_ko("plain", livepatch=False, vermagic=VERMAGIC))
    with pytest.raises(KernelError, match="cannot read"):
        kernel.load(str(plain_root / "missing.ko"))
    syscall.assert_not_called()


def test_unload_errno(plain_root, mocker):
    kernel = LinuxKernel(str(plain_root))
    mocker.patch.object(kernel, "_syscall", side_effect=OSError(errno.EBUSY, "busy"))
    with pytest.raises(KernelError, match=r"still in use: disable its patch .* \(EBUSY\)"):
        kernel.unload("livepatch_1_1_1")


def test_sysfs_writes_go_to_the_attribute_files(plain_root):
    kernel = LinuxKernel(str(plain_root))
    kernel.disable("livepatch_1_1_1")
    kernel.force("livepatch_1_1_1")
    patch = plain_root / "sys/kernel/livepatch/livepatch_1_1_1"
    assert (patch / "enabled").read_text().startswith("0")
    assert (patch / "force").read_text() == "1"
    assert kernel.signal("livepatch_1_1_1") is False  # no 'signal' attribute on this kernel


def test_sysfs_write_to_missing_patch_and_symlink(plain_root, tmp_path):
    kernel = LinuxKernel(str(plain_root))
    with pytest.raises(KernelError, match=r"not a live patch in sysfs \(ENOENT\)"):
        kernel.disable("livepatch_9")
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    enabled = plain_root / "sys/kernel/livepatch/livepatch_1_1_1/enabled"
    enabled.unlink()
    enabled.symlink_to(target)
    with pytest.raises(KernelError):
        kernel.disable("livepatch_1_1_1")
    assert target.read_text() == "untouched"


def test_real_syscall_is_refused_for_a_non_module_without_loading(plain_root, tmp_path):
    """The real finit_module path runs end to end only after preflight; garbage never gets there."""
    junk = tmp_path / "junk.ko"
    junk.write_bytes(b"\x7fELF" + b"\0" * 60)
    with pytest.raises(KernelError, match="is not a kernel module"):
        LinuxKernel(str(plain_root)).load(str(junk))


def test_ebusy_without_a_transition_names_disabled_ftrace(plain_root, build_ko, mocker):
    """The kernel says EBUSY when ftrace cannot register (kernel.ftrace_enabled=0): check the cause."""
    (plain_root / "sys/kernel/livepatch/livepatch_1_1_1/transition").write_text("0\n")
    (plain_root / "proc/sys/kernel/ftrace_enabled").write_text("0\n")
    kernel = LinuxKernel(str(plain_root))
    mocker.patch.object(kernel, "_syscall", side_effect=OSError(errno.EBUSY, "busy"))
    with pytest.raises(KernelError) as exc:
        kernel.load(build_ko("livepatch_2_1_1"))
    assert "ftrace is disabled (sysctl kernel.ftrace_enabled=0)" in str(exc.value)
    assert "another live patch transition" not in str(exc.value)
    (plain_root / "proc/sys/kernel/ftrace_enabled").write_text("1\n")
    with pytest.raises(KernelError) as exc:
        kernel.load(build_ko("livepatch_2_1_1"))
    assert "busy although no transition is in progress" in str(exc.value)
