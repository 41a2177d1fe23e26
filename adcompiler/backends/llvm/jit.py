"""The machine-code side of the native tier: the host target machine, LLVM's new
pass manager (speed level 3, loop and SLP vectorisation) and MCJIT.

By default no fast-math flags and no FP contraction are set, so optimised code
computes what the NumPy tier computes, bit for bit where both call the same libm.
`fast_math` (the user's `fastmath=True`) allows reassociation and contraction
into fused multiply-adds only: no `nnan`/`ninf`, so the checks that make a call
raise where Python raises still see every nan and inf.
"""
from __future__ import annotations

import functools
import re
import threading

import llvmlite.binding as llvm

__all__ = ["target_machine", "optimize", "engine", "host_key", "fast_math"]

_FP_ARITH = re.compile(r"= (fadd|fsub|fmul|fdiv|frem|fneg) ")

_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def target_machine(opt=3):
    """The host's target machine (CPU name and features), for passes and code generation."""
    return _new_target_machine(opt)


def _new_target_machine(opt=3):
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
                                        opt=opt, reloc="pic", codemodel="default", jit=True)


def host_key():
    """What object code depends on besides the IR: LLVM's version, the triple, CPU and features."""
    target_machine()
    return (".".join(map(str, llvm.llvm_version_info)), llvm.get_process_triple(), llvm.get_host_cpu_name(),
            llvm.get_host_cpu_features().flatten())


def fast_math(text):
    """LLVM IR text with `reassoc contract` on every floating-point arithmetic instruction."""
    return _FP_ARITH.sub(r"= \1 reassoc contract ", text)


def parse(text):
    target_machine()
    mod = llvm.parse_assembly(text)
    mod.verify()
    return mod


def optimize(mod, level=3):
    """Run the default per-module pipeline at `level` (0-3) on `mod`, in place."""
    if level <= 0:
        return mod
    tm = target_machine()
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    pto.loop_vectorization = level >= 2
    pto.slp_vectorization = level >= 2
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod


def engine(mod):
    """An MCJIT engine holding the machine code of `mod` (keep it alive while its functions are used)."""
    with _lock:   # an engine owns (and frees) its target machine: each gets a new one
        ee = llvm.create_mcjit_compiler(mod, _new_target_machine())
        ee.finalize_object()
    return ee


def engine_from_object(obj):
    """An MCJIT engine running object code (from the disk cache, or just emitted)."""
    with _lock:
        ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _new_target_machine())
        ee.add_object_file(llvm.ObjectFileRef.from_data(bytes(obj)))
        ee.finalize_object()
    return ee


def assembly(mod):
    return target_machine().emit_assembly(mod)
