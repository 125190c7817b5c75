"""``instrumentors.config``: every variable parsed, bad values warn once and fall back, caching."""

from __future__ import annotations

import logging

import pytest

from instrumentors import config

LOGGER = "instrumentors.config"


def config_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# --- defaults -----------------------------------------------------------------


def test_defaults_with_no_environment() -> None:
    current = config.load({})

    assert current == config.Settings()
    assert current.capture_mode == "NO_CONTENT"
    assert current.capture_content is False
    assert current.capture_content_on_span is False
    assert current.hash_key is None
    assert current.capture_sample_rate == 0.0
    assert current.max_attribute_length == config.DEFAULT_MAX_ATTRIBUTE_LENGTH == 4096
    assert current.propagate_hosts is None


def test_settings_read_os_environ_by_default(settings_env) -> None:  # type: ignore[no-untyped-def]
    current = settings_env(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
        AGENT_INSTRUMENTORS_PARAMS_HASH_KEY="k3y",
        AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE="0.25",
        AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH="100",
        AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="api.example.com",
    )

    assert current == config.settings()
    assert current.capture_mode == "SPAN_ONLY"
    assert current.hash_key == b"k3y"
    assert current.capture_sample_rate == 0.25
    assert current.max_attribute_length == 100
    assert current.propagate_hosts == ("api.example.com",)


def test_variable_names_are_the_documented_ones() -> None:
    assert config.CAPTURE_MESSAGE_CONTENT == "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    assert config.PARAMS_HASH_KEY == "AGENT_INSTRUMENTORS_PARAMS_HASH_KEY"
    assert config.CAPTURE_SAMPLE_RATE == "AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE"
    assert config.MAX_ATTRIBUTE_LENGTH == "AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH"
    assert config.PROPAGATE_HOSTS == "AGENT_INSTRUMENTORS_PROPAGATE_HOSTS"
    assert config.SHUTDOWN_TIMEOUT == "AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT"


# --- content capture ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "mode", "on", "on_span"),
    [
        ("true", "SPAN_ONLY", True, True),
        ("TRUE", "SPAN_ONLY", True, True),
        ("True", "SPAN_ONLY", True, True),
        (" true ", "SPAN_ONLY", True, True),
        ("false", "NO_CONTENT", False, False),
        ("FALSE", "NO_CONTENT", False, False),
        ("False", "NO_CONTENT", False, False),
        ("SPAN_ONLY", "SPAN_ONLY", True, True),
        ("span_only", "SPAN_ONLY", True, True),
        ("SPAN_AND_EVENT", "SPAN_AND_EVENT", True, True),
        ("span_and_event", "SPAN_AND_EVENT", True, True),
        ("Span_And_Event", "SPAN_AND_EVENT", True, True),
        ("EVENT_ONLY", "EVENT_ONLY", True, False),
        ("event_only", "EVENT_ONLY", True, False),
        ("NO_CONTENT", "NO_CONTENT", False, False),
        ("no_content", "NO_CONTENT", False, False),
        ("", "NO_CONTENT", False, False),
        ("   ", "NO_CONTENT", False, False),
    ],
)
def test_capture_mode_spellings(
    raw: str, mode: str, on: bool, on_span: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load({config.CAPTURE_MESSAGE_CONTENT: raw})

    assert current.capture_mode == mode
    assert current.capture_content is on
    assert current.capture_content_on_span is on_span
    assert config_warnings(caplog) == []


@pytest.mark.parametrize("raw", ["yes", "1", "on", "SPAN", "tru", "span-only"])
def test_invalid_capture_mode_warns_and_falls_back(
    raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load({config.CAPTURE_MESSAGE_CONTENT: raw})

    assert current.capture_mode == "NO_CONTENT"
    assert current.capture_content is False
    (record,) = config_warnings(caplog)
    message = record.getMessage()
    assert config.CAPTURE_MESSAGE_CONTENT in message
    assert repr(raw) in message


# --- hash key -----------------------------------------------------------------


def test_hash_key_is_utf8_bytes() -> None:
    assert config.load({config.PARAMS_HASH_KEY: "clé"}).hash_key == "clé".encode()


def test_empty_hash_key_means_no_key() -> None:
    assert config.load({config.PARAMS_HASH_KEY: ""}).hash_key is None


def test_non_utf8_hash_key_uses_the_raw_bytes_and_warns_once_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = b"k\xff\xfe-secret"
    undecodable = raw.decode("utf-8", "surrogateescape")  # how os.environ holds such bytes
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        first = config.load({config.PARAMS_HASH_KEY: undecodable})
        config.load({config.PARAMS_HASH_KEY: undecodable})
    assert first.hash_key == raw
    (record,) = config_warnings(caplog)
    assert config.PARAMS_HASH_KEY in record.getMessage()
    assert "secret" not in record.getMessage()


def test_a_lone_surrogate_hash_key_still_gives_a_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load({config.PARAMS_HASH_KEY: "k\ud800"})
    assert current.hash_key == "k\ud800".encode("utf-8", "surrogatepass")
    assert len(config_warnings(caplog)) == 1


# --- shutdown timeout ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"), [("", 5.0), ("1", 1.0), (" 0.25 ", 0.25), ("30", 30.0)]
)
def test_shutdown_timeout(raw: str, seconds: float, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert config.load({config.SHUTDOWN_TIMEOUT: raw}).shutdown_timeout == seconds
    assert config_warnings(caplog) == []


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "nan", "inf", "1e400"])
def test_invalid_shutdown_timeout_warns_and_falls_back(
    raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert config.load({config.SHUTDOWN_TIMEOUT: raw}).shutdown_timeout == 5.0
    (record,) = config_warnings(caplog)
    assert config.SHUTDOWN_TIMEOUT in record.getMessage()


# --- sample rate --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rate"),
    [
        ("0", 0.0),
        ("0.0", 0.0),
        ("0.5", 0.5),
        (" 0.125 ", 0.125),
        ("1", 1.0),
        ("1.0", 1.0),
        ("1e-3", 0.001),
    ],
)
def test_valid_sample_rates(raw: str, rate: float, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load({config.CAPTURE_SAMPLE_RATE: raw})

    assert current.capture_sample_rate == rate
    assert config_warnings(caplog) == []


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("1.5", "between 0 and 1"),
        ("-0.1", "between 0 and 1"),
        ("nan", "between 0 and 1"),
        ("NaN", "between 0 and 1"),
        ("inf", "between 0 and 1"),
        ("-inf", "between 0 and 1"),
        ("half", "not a number"),
        ("50%", "not a number"),
    ],
)
def test_invalid_sample_rate_warns_and_falls_back(
    raw: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load({config.CAPTURE_SAMPLE_RATE: raw})

    assert current.capture_sample_rate == 0.0
    (record,) = config_warnings(caplog)
    assert config.CAPTURE_SAMPLE_RATE in record.getMessage()
    assert why in record.getMessage()


# --- max attribute length -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "length"),
    [("16", 16), ("17", 17), ("100", 100), (" 8192 ", 8192), ("1000000", 1_000_000)],
)
def test_valid_max_lengths(raw: str, length: int, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load({config.MAX_ATTRIBUTE_LENGTH: raw})

    assert current.max_attribute_length == length
    assert config_warnings(caplog) == []


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("15", "at least 16"),
        ("0", "at least 16"),
        ("-5", "at least 16"),
        ("4096.0", "not an integer"),
        ("1e3", "not an integer"),
        ("lots", "not an integer"),
    ],
)
def test_invalid_max_length_warns_and_falls_back(
    raw: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load({config.MAX_ATTRIBUTE_LENGTH: raw})

    assert current.max_attribute_length == config.DEFAULT_MAX_ATTRIBUTE_LENGTH
    (record,) = config_warnings(caplog)
    assert config.MAX_ATTRIBUTE_LENGTH in record.getMessage()
    assert why in record.getMessage()


# --- propagation hosts --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [
        ("", None),
        ("*", None),
        (" * ", None),
        (",, ,", None),
        ("api.example.com", ("api.example.com",)),
        ("API.Example.COM, *.internal ,localhost", ("api.example.com", "*.internal", "localhost")),
        ("a.com,,b.com,", ("a.com", "b.com")),
    ],
)
def test_propagate_hosts(raw: str, hosts: tuple[str, ...] | None) -> None:
    assert config.load({config.PROPAGATE_HOSTS: raw}).propagate_hosts == hosts


# --- warn once ------------------------------------------------------------------


def test_invalid_value_warns_once_across_reads(
    settings_env,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        first = settings_env(AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE="2")
        for _ in range(5):
            assert config.settings() is first
        config.load()
        config.load()

    assert first.capture_sample_rate == 0.0
    (record,) = config_warnings(caplog)
    assert config.CAPTURE_SAMPLE_RATE in record.getMessage()


def test_each_bad_variable_gets_its_own_warning(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        config.CAPTURE_MESSAGE_CONTENT: "maybe",
        config.CAPTURE_SAMPLE_RATE: "x",
        config.MAX_ATTRIBUTE_LENGTH: "3",
    }
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        current = config.load(env)
        config.load(env)

    assert current == config.Settings()
    names = sorted(
        name
        for record in config_warnings(caplog)
        for name in (
            config.CAPTURE_MESSAGE_CONTENT,
            config.CAPTURE_SAMPLE_RATE,
            config.MAX_ATTRIBUTE_LENGTH,
        )
        if name in record.getMessage()
    )
    assert names == sorted(
        [config.CAPTURE_MESSAGE_CONTENT, config.CAPTURE_SAMPLE_RATE, config.MAX_ATTRIBUTE_LENGTH]
    )
    assert len(config_warnings(caplog)) == 3


def test_good_values_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        config.load(
            {
                config.CAPTURE_MESSAGE_CONTENT: "span_and_event",
                config.PARAMS_HASH_KEY: "k",
                config.CAPTURE_SAMPLE_RATE: "0.5",
                config.MAX_ATTRIBUTE_LENGTH: "64",
                config.PROPAGATE_HOSTS: "a.com",
            }
        )

    assert [r for r in caplog.records if r.name == LOGGER] == []


# --- caching ------------------------------------------------------------------


def test_settings_is_cached_until_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    first = config.settings()
    assert config.settings() is first

    monkeypatch.setenv(config.MAX_ATTRIBUTE_LENGTH, "128")
    monkeypatch.setenv(config.CAPTURE_MESSAGE_CONTENT, "SPAN_ONLY")
    # The environment is read once: a later change is not seen until reload().
    assert config.settings() is first
    assert config.settings().max_attribute_length == 4096

    reloaded = config.reload()
    assert reloaded is not first
    assert config.settings() is reloaded
    assert reloaded.max_attribute_length == 128
    assert reloaded.capture_mode == "SPAN_ONLY"


def test_load_does_not_replace_the_cached_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    cached = config.settings()
    monkeypatch.setenv(config.CAPTURE_SAMPLE_RATE, "0.5")

    fresh = config.load()

    assert fresh.capture_sample_rate == 0.5
    assert config.settings() is cached
    assert cached.capture_sample_rate == 0.0


def test_reload_warns_again_for_a_value_still_invalid(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(config.MAX_ATTRIBUTE_LENGTH, "tiny")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        config.reload()
        config.settings()
        config.reload()

    assert len(config_warnings(caplog)) == 2


def test_settings_are_immutable() -> None:
    current = config.settings()
    with pytest.raises(AttributeError):
        current.capture_mode = "SPAN_ONLY"  # type: ignore[misc]


# --- variables the OpenTelemetry API and SDK raise on ---------------------------------


@pytest.mark.parametrize(
    "raw", ["tracecontxt", "tracecontext,", "tracecontext,bagage", " ,baggage", "nope,none"]
)
def test_an_unknown_propagator_is_replaced_by_the_default(
    raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = {config.PROPAGATORS: raw}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert config.check_propagators(env) is True
    assert env == {config.PROPAGATORS: "tracecontext,baggage"}
    (record,) = config_warnings(caplog)
    assert config.PROPAGATORS in record.getMessage()


@pytest.mark.parametrize(
    "raw", ["tracecontext", "baggage,tracecontext", "none", "tracecontext,none,typo", "b3multi"]
)
def test_known_propagators_are_left_alone(raw: str, caplog: pytest.LogCaptureFixture) -> None:
    env = {config.PROPAGATORS: raw}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert config.check_propagators(env) is False
    assert env == {config.PROPAGATORS: raw}
    assert config_warnings(caplog) == []


def test_unset_propagators_are_left_alone() -> None:
    env: dict[str, str] = {}
    assert config.check_propagators(env) is False
    assert env == {}


def test_span_limits_the_sdk_would_raise_on_are_removed(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "-5",
        "OTEL_SPAN_EVENT_COUNT_LIMIT": "",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "big",
        "OTEL_SPAN_LINK_COUNT_LIMIT": "12",
        "OTEL_ATTRIBUTE_COUNT_LIMIT": "unset",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "1.5",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": " +7 ",  # int() takes it, so the SDK does too
    }
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        removed = config.check_span_limits(env)
    assert sorted(removed) == [
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
    ]
    assert env == {
        "OTEL_SPAN_LINK_COUNT_LIMIT": "12",
        "OTEL_ATTRIBUTE_COUNT_LIMIT": "unset",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": " +7 ",
    }
    assert len(config_warnings(caplog)) == 4
