"""``@tool`` for plain-Python tools and ``tool_call_id()`` to name the call it serves.

The decorator is the hot path of the core: everything per function (name,
description, how to bind arguments) is computed once at decoration time.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, overload

from opentelemetry.trace import get_current_span

from instrumentors import semconv
from instrumentors._generators import traced_async_generator, traced_generator
from instrumentors._lazy import default_telemetry, instrumentation_enabled

if TYPE_CHECKING:
    from instrumentors.telemetry import ToolRun, ToolTemplate

_logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_SELF_NAMES: Final = frozenset({"self", "cls"})
_DESCRIPTION_LIMIT: Final = 1024


class _PendingCallId:
    __slots__ = ("call_id", "scope", "taken")

    def __init__(self, call_id: str, scope: object) -> None:
        self.call_id = call_id
        self.scope = scope  # the span current when the block was entered
        self.taken = False


_pending_call_id: ContextVar[_PendingCallId | None] = ContextVar(
    "instrumentors_tool_call_id", default=None
)


class tool_call_id:
    """Give the ``@tool`` call inside the block this tool call id (and its span link).

    The first ``@tool`` call in the block takes it; later calls made directly in
    the block (retries of the same call) take it too; tools nested inside
    another tool's span do not.
    """

    __slots__ = ("_call_id", "_tokens")

    def __init__(self, call_id: str) -> None:
        self._call_id = str(call_id) if call_id is not None else ""
        self._tokens: list[Any] = []

    def __enter__(self) -> tool_call_id:
        pending = _PendingCallId(self._call_id, get_current_span()) if self._call_id else None
        self._tokens.append(_pending_call_id.set(pending))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            _pending_call_id.reset(self._tokens.pop())


def _take_call_id() -> str | None:
    pending = _pending_call_id.get()
    if pending is None:
        return None
    if not pending.taken:
        pending.taken = True
        return pending.call_id
    return pending.call_id if get_current_span() is pending.scope else None


class _ToolSpec:
    """What is fixed per decorated function: names, description, argument binding."""

    __slots__ = (
        "cost",
        "defaults",
        "description",
        "drop_first",
        "fast",
        "name",
        "positional",
        "signature",
        "template",
        "tool_type",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        name: str,
        description: str | None,
        tool_type: str,
        cost: float | None = None,
    ) -> None:
        self.name = name
        self.cost = cost  # a fixed cost per call (USD), for a paid tool
        self.tool_type = tool_type
        self.description = description
        self.template: ToolTemplate | None = None  # per Telemetry; rebuilt if that changes
        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self.signature = None
        params = list(self.signature.parameters.values()) if self.signature else []
        self.drop_first = bool(params) and params[0].name in _SELF_NAMES
        kinds = {p.kind for p in params}
        self.fast = self.signature is not None and not kinds & {
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        }
        self.positional = tuple(
            p.name
            for p in params
            if p.kind
            in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        )
        self.defaults = {
            p.name: p.default for p in params if p.default is not inspect.Parameter.empty
        }

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Argument name -> value, defaults applied; positional and keyword calls alike."""
        if self.fast and len(args) <= len(self.positional):
            bound = dict(self.defaults) if self.defaults else {}
            bound.update(zip(self.positional, args, strict=False))
            if kwargs:
                bound.update(kwargs)
        elif self.signature is not None:
            try:
                ba = self.signature.bind(*args, **kwargs)
                ba.apply_defaults()
                bound = dict(ba.arguments)
            except TypeError:  # the call itself is wrong; the function will say so
                bound = {"args": list(args), "kwargs": kwargs}
        else:
            bound = {"args": list(args), "kwargs": kwargs}
        if self.drop_first and self.positional:
            bound.pop(self.positional[0], None)
        return bound


def _description(func: Callable[..., Any]) -> str | None:
    doc = inspect.getdoc(func)
    if not doc:
        return None
    return doc.strip().split("\n\n", 1)[0].replace("\n", " ")[:_DESCRIPTION_LIMIT]


def _start(
    spec: _ToolSpec, args: tuple[Any, ...], kwargs: dict[str, Any], attach: bool
) -> ToolRun | None:
    try:
        tel = default_telemetry()
        template = spec.template
        if template is None or template.owner is not tel:
            template = spec.template = tel.tool_template(
                spec.name, spec.tool_type, spec.description
            )
        if tel.will_record():
            run = tel.tool(
                template,
                call_id=_take_call_id(),
                attach=attach,
                params=spec.bind(args, kwargs),
                recording=True,
            )
        else:
            run = tel.tool(template, call_id=_take_call_id(), attach=attach)
            if run.span.is_recording():
                run.set_params(spec.bind(args, kwargs))
        if spec.cost:
            run.add_cost(spec.cost)
        return run
    except Exception:
        _logger.debug(
            "instrumentors: starting the tool span for %s failed", spec.name, exc_info=True
        )
        return None


def _wrap(func: Callable[..., Any], spec: _ToolSpec) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not instrumentation_enabled():
                return func(*args, **kwargs)
            run = _start(spec, args, kwargs, attach=False)
            agen = func(*args, **kwargs)
            return agen if run is None else traced_async_generator(agen, run)

        return agen_wrapper

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not instrumentation_enabled():
                return func(*args, **kwargs)
            run = _start(spec, args, kwargs, attach=False)
            gen = func(*args, **kwargs)
            return gen if run is None else traced_generator(gen, run)

        return gen_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not instrumentation_enabled():
                return await func(*args, **kwargs)
            run = _start(spec, args, kwargs, attach=True)
            if run is None:
                return await func(*args, **kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                run.fail(exc)
                raise
            run.stop(result)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not instrumentation_enabled():
            return func(*args, **kwargs)
        run = _start(spec, args, kwargs, attach=True)
        if run is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            run.fail(exc)
            raise
        run.stop(result)
        return result

    return wrapper


@overload
def tool(func: F, /) -> F: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    tool_type: str = semconv.TOOL_TYPE_FUNCTION,
    cost: float | None = None,
) -> Callable[[F], F]: ...


def tool(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    tool_type: str = semconv.TOOL_TYPE_FUNCTION,
    cost: float | None = None,
) -> F | Callable[[F], F]:
    """Trace each call of ``func`` as an ``execute_tool`` span (sync, async, generators).

    ``cost``: a fixed cost per call in USD (a paid API), on the span and in its roll-ups.
    """

    def decorate(target: F) -> F:
        spec = _ToolSpec(
            target,
            name or getattr(target, "__name__", None) or type(target).__name__,
            description if description is not None else _description(target),
            tool_type,
            _valid_cost(cost),
        )
        wrapped = _wrap(target, spec)
        wrapped.__instrumentors_tool__ = spec.name  # type: ignore[attr-defined]
        return cast(F, wrapped)

    if func is not None:
        if not callable(func):
            raise TypeError(f"@instrumentors.tool expects a callable, got {type(func).__name__}")
        return decorate(func)
    return decorate


def _valid_cost(cost: float | None) -> float | None:
    if cost is None:
        return None
    try:
        value = float(cost)
    except (TypeError, ValueError):
        value = -1.0
    if not value >= 0 or value == float("inf"):
        _logger.warning("@instrumentors.tool(cost=%r): not a cost in USD; ignored", cost)
        return None
    return value
