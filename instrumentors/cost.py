"""What a model call cost: prices from ``genai-prices`` plus the user's, cached per model.

``genai-prices`` knows providers, models, cached-input, cache-write and tiered
prices and the date a price changed; asking it costs about a millisecond per
call, so it is asked once per (provider, model) and day. The answer is kept as
four per-token rates; a call is then priced with a few multiplications. Only a
call past a tier threshold (200k input tokens and more), or with a token kind
the rates do not cover, asks the library again. User prices (``setup(prices=)``
or the JSON / TOML file named by ``AGENT_INSTRUMENTORS_PRICES``) win over it,
with the library's field names, in USD per million tokens::

    {"my-fine-tune": {"input_mtok": 3, "output_mtok": 12, "cache_read_mtok": 0.3}}

An unknown model gets no cost and one DEBUG log, never a guess. Prices are
estimates from public list prices, not invoices.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

_logger = logging.getLogger(__name__)

USD: Final = "USD"
PRICE_FIELDS: Final = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_CACHE_CAP: Final = 2048  # (provider, model) pairs priced; cleared (not grown) past it
_REFRESH_S: Final = 6 * 3600.0  # prices change on dates: ask the library again this often
# Our gen_ai.provider.name values -> genai-prices provider ids (None: let it find the provider).
_PROVIDERS: Final = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "x_ai": "x-ai",
    "cohere": "cohere",
    "perplexity": "perplexity",
}


class Rates:
    """USD per token of one model: input, output, cache read, cache write (None: not priced)."""

    __slots__ = ("cache_read", "cache_write", "input", "output", "tier_start")

    def __init__(
        self,
        input: float | None,
        output: float | None,
        cache_read: float | None = None,
        cache_write: float | None = None,
        tier_start: int | None = None,
    ) -> None:
        self.input = input
        self.output = output
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.tier_start = tier_start  # input tokens past which another price applies

    @classmethod
    def per_million(cls, prices: Mapping[str, Any]) -> Rates:
        """From ``{"input_mtok": ..., "output_mtok": ...}`` (USD per million tokens)."""
        rates = [_per_token(prices.get(name)) for name in PRICE_FIELDS]
        return cls(rates[0], rates[1], rates[2], rates[3])

    def price(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> float | None:
        """The cost in USD, or None when these rates cannot price this usage exactly."""
        tier_start = self.tier_start
        if tier_start is not None and input_tokens > tier_start:
            return None
        uncached = input_tokens - cache_read - cache_write
        if uncached < 0:
            uncached = input_tokens  # a provider that reports input without its cached part
        # Unrolled (this runs at every model call's end): a count without a rate -> None.
        total = 0.0
        if uncached:
            if self.input is None:
                return None
            total += uncached * self.input
        if output_tokens:
            if self.output is None:
                return None
            total += output_tokens * self.output
        if cache_read:
            if self.cache_read is None:
                return None
            total += cache_read * self.cache_read
        if cache_write:
            if self.cache_write is None:
                return None
            total += cache_write * self.cache_write
        return total


def _per_token(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not (number >= 0 and math.isfinite(number)):
        raise ValueError(f"a price must be a non-negative number, not {value!r}")
    return number / 1_000_000


class Pricer:
    """Prices model calls: user prices first, then ``genai-prices``, cached per model and day."""

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._overrides: dict[str, Rates] = {}
        for model, prices in (overrides or {}).items():
            try:
                self._overrides[str(model).lower()] = Rates.per_million(prices)
            except (TypeError, ValueError, AttributeError):
                _logger.warning("instrumentors: ignoring the price of %r: %r", model, prices)
        self._cache: dict[tuple[str, str], Rates | None] = {}
        self._refresh_at = time.monotonic() + _REFRESH_S
        self._lock = threading.Lock()

    def price(
        self,
        provider: str,
        model: str,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read: int | None = None,
        cache_write: int | None = None,
    ) -> float | None:
        """The cost in USD of one call, or None (unknown model, no usage)."""
        if not model or (input_tokens is None and output_tokens is None):
            return None
        rates = self._cache.get((provider, model))
        if rates is None or time.monotonic() >= self._refresh_at:
            rates = self.rates(provider, model)
            if rates is None:
                return None
        counts = (input_tokens or 0, output_tokens or 0, cache_read or 0, cache_write or 0)
        cost = rates.price(*counts)
        if cost is not None:
            return cost
        if model.lower() in self._overrides:
            return None  # the user's price does not cover this usage: no guess
        return _library_price(provider, model, counts)

    def rates(self, provider: str, model: str) -> Rates | None:
        """The per-token rates of ``model`` (cached), or None when nobody prices it."""
        key = (provider, model)
        if time.monotonic() >= self._refresh_at:  # prices change on dates: look again daily
            with self._lock:
                self._cache.clear()
                self._refresh_at = time.monotonic() + _REFRESH_S
        if key in self._cache:
            return self._cache[key]
        rates = self._overrides.get(model.lower()) or _library_rates(provider, model)
        with self._lock:
            if len(self._cache) >= _CACHE_CAP:
                self._cache.clear()
            self._cache[key] = rates
        return rates


def _library_rates(provider: str, model: str) -> Rates | None:
    """The model's rates from ``genai-prices`` (one slow lookup), or None when unknown."""
    try:
        import genai_prices
    except ImportError:
        _logger.debug("instrumentors: genai-prices is not installed: no model costs")
        return None
    try:
        usage = genai_prices.Usage(input_tokens=0, output_tokens=0)
        found = genai_prices.calc_price(usage, model, provider_id=_PROVIDERS.get(provider))
    except LookupError:
        _logger.debug("instrumentors: no price known for %s model %r", provider or "?", model)
        return None
    except Exception:
        _logger.debug("instrumentors: pricing %r failed", model, exc_info=True)
        return None
    return _rates_of(found.model_price)


def _rates_of(model_price: Any) -> Rates:
    """Flat rates (the base of tiered ones, with the lowest tier start kept)."""
    rates: list[float | None] = []
    starts: list[int] = []
    for name in PRICE_FIELDS:
        price: Any = getattr(model_price, name, None)
        tiers = getattr(price, "tiers", None)
        if tiers:
            starts += [int(tier.start) for tier in tiers]
            price = price.base
        rates.append(float(price) / 1_000_000 if price is not None else None)
    return Rates(rates[0], rates[1], rates[2], rates[3], min(starts) if starts else None)


def _library_price(provider: str, model: str, counts: tuple[int, int, int, int]) -> float | None:
    """The exact price from ``genai-prices`` (slow: tiers past their threshold, odd usage)."""
    try:
        import genai_prices

        input_tokens, output_tokens, cache_read, cache_write = counts
        usage = genai_prices.Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        )
        found = genai_prices.calc_price(usage, model, provider_id=_PROVIDERS.get(provider))
        return float(found.total_price)
    except Exception:
        _logger.debug("instrumentors: pricing %r failed", model, exc_info=True)
        return None


def load_prices(path: str | Path) -> dict[str, dict[str, Any]]:
    """Price overrides from a JSON or TOML file (model -> {input_mtok, output_mtok, ...})."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".toml":
        import importlib

        try:  # Python 3.11+: on 3.10, write the prices as JSON
            toml: Any = importlib.import_module("tomllib")
        except ImportError as exc:
            raise ValueError("TOML price files need Python 3.11; use JSON") from exc
        data: Any = toml.loads(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError("expected a table of model -> {input_mtok, output_mtok, ...}")
    return data


_pricer: Pricer | None = None
_warming: threading.Thread | None = None


def warm() -> None:
    """Load ``genai-prices`` and its price data in a background thread, once per process.

    The import and the first lookup take about half a second; a model layer calls this
    when it starts, so that time passes while the agent builds its client and sends its
    first request, not inside the first call's span end.
    """
    global _warming
    if _warming is not None:
        return
    _warming = threading.Thread(target=_warm_up, name="instrumentors-prices", daemon=True)
    # No threads (interpreter shutting down): the first call prices itself.
    with contextlib.suppress(RuntimeError):
        _warming.start()


def _warm_up() -> None:
    try:
        _library_rates("openai", "gpt-4o-mini")  # imports the library, loads its data
    except Exception:  # best effort: a call prices itself if this failed
        _logger.debug("instrumentors: loading prices failed", exc_info=True)


def pricer() -> Pricer:
    """The process-wide pricer (user prices from ``setup(prices=)`` or the settings file)."""
    global _pricer
    current = _pricer
    if current is None:
        current = _pricer = Pricer(_configured_overrides())
    return current


def configure(prices: Mapping[str, Mapping[str, Any]] | None) -> Pricer:
    """Replace the process-wide pricer: the settings file's prices, then ``prices`` over them."""
    global _pricer
    overrides = {**_configured_overrides(), **dict(prices or {})}
    _pricer = Pricer(overrides)
    return _pricer


def _configured_overrides() -> dict[str, dict[str, Any]]:
    from instrumentors.config import settings

    path = settings().prices_file
    if not path:
        return {}
    try:
        return load_prices(path)
    except Exception as exc:  # noqa: BLE001 - a bad file warns once and is ignored
        _logger.warning("instrumentors: ignoring the price file %s (%s)", path, exc)
        return {}


def record_cost(amount: float, currency: str = USD, source: str = "local") -> bool:
    """Add a cost to the current span (a paid API a tool calls: search, image generation).

    On a span of ours it adds to what that span carries and to its enclosing runs'
    ``agent.cost.total`` (USD only: other currencies are recorded, not summed).
    Returns False when there is no recording span; never raises.
    """
    try:
        amount = float(amount)
        if not (amount >= 0 and math.isfinite(amount)):
            _logger.debug("instrumentors: ignoring the cost %r", amount)
            return False
        from opentelemetry import trace

        from instrumentors.telemetry import _cost

        span = trace.get_current_span()
        if not span.is_recording():
            return False
        run = _cost.run_of(span.get_span_context().span_id)
        if run is not None:
            run.add_cost(amount, str(currency), str(source))
            return True
        attributes: dict[str, Any] = dict(getattr(span, "attributes", None) or {})
        _cost.own_cost(attributes, amount, str(currency), str(source))
        span.set_attributes(
            {k: v for k, v in attributes.items() if k.startswith("gen_ai.usage.cost.")}
        )
        if currency == USD:
            _cost.add(_cost.enclosing(None), amount, model=False)
        return True
    except Exception:
        _logger.debug("instrumentors: record_cost failed", exc_info=True)
        return False
