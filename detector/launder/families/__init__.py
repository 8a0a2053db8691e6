"""The laundering families, one file each; importing this package registers them all.

Each module registers its family with :func:`..registry.register_family`; a new family is a new
file here (and its tests), picked up without editing any list. Help texts list families in
registration order: the laundered-ASVspoof study's families first, in the study's order, then
every other module of this folder alphabetically.
"""
import importlib
import pkgutil

STUDY_FAMILIES = ("clean", "noise", "reverb", "resample", "lowpass", "codecs")

for _name in (*STUDY_FAMILIES, *sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in STUDY_FAMILIES)):
    importlib.import_module(f"{__name__}.{_name}")
