"""Helpers shared by the package: the no-public-constructor metaclass, module fixup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Mapping

T = TypeVar("T")


class NoPublicConstructor(type):
    """Metaclass that makes ``Cls(...)`` a TypeError; the package calls ``Cls._create``.

    Borrowed from trio: runtime objects such as :class:`Supervisor` only make sense
    when the package builds them (inside ``open_supervisor``).
    """

    def __call__(cls, *args: object, **kwargs: object) -> None:
        msg = f"{cls.__module__}.{cls.__qualname__} has no public constructor"
        raise TypeError(msg)

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc,no-any-return]  # type.__call__ on the real class


def fixup_module_metadata(module_name: str, namespace: Mapping[str, object]) -> None:
    """Make every public name re-exported by ``module_name`` claim it lives there.

    Tracebacks, reprs and documentation then say ``supervisor.TaskHandle`` rather
    than ``supervisor._handle.TaskHandle``. Classes and functions named here are
    rewritten, and classes nested in those classes; methods keep the module that
    defines them. Rewriting a method's ``__module__`` changes nothing a user sees,
    and it would hide the method from tools that find functions by module, such
    as the mutation tool's (mutmut's) record of which tests reach which function.
    """
    seen: set[int] = set()

    def fix_one(qualname: str, name: str, obj: object) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        mod = getattr(obj, "__module__", None)
        if mod is None or not mod.startswith("supervisor."):
            return
        obj.__module__ = module_name
        if isinstance(obj, type):
            obj.__name__ = name
            obj.__qualname__ = qualname
            for attr_name, attr_value in obj.__dict__.items():
                if isinstance(attr_value, type):  # nested classes; methods keep theirs
                    fix_one(f"{qualname}.{attr_name}", attr_name, attr_value)

    for objname, obj in namespace.items():
        if not objname.startswith("_"):
            fix_one(objname, objname, obj)
