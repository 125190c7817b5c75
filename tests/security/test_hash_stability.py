"""``request.parameters.hash`` is a function of the value alone.

Equal values hash alike in every process, whatever ``PYTHONHASHSEED`` says (set
order) and wherever objects live (memory addresses); values that differ, even in
one element of a large array or one cell of a data frame, hash differently.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import os
import pathlib
import subprocess
import sys
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pydantic.v1
import pytest

from instrumentors import config, params

NO_KEY = config.Settings()

# Builds the same values in a fresh interpreter and prints their hashes as JSON.
SCRIPT = r"""
import dataclasses, datetime, decimal, enum, json, pathlib, uuid
import numpy as np, pandas as pd, pydantic, pydantic.v1
from instrumentors import config, params

WORDS = [f"word-{i}" for i in range(64)]

class Tagged(pydantic.BaseModel):
    name: str
    tags: set[str]
    groups: dict[str, frozenset[str]]

class TaggedV1(pydantic.v1.BaseModel):
    tags: set[str]

@dataclasses.dataclass
class Job:
    labels: set[str]
    when: datetime.datetime

class Color(enum.Enum):
    RED = "red"

UTC = datetime.timezone.utc

class Opaque:
    def __init__(self, value):
        self.value = value
        self.tags = set(WORDS[:8])

frame = pd.DataFrame({"city": ["Paris", "Rome"], "t": [21.5, 24.0]}, index=["a", "b"])
values = {
    "pydantic_set_field": Tagged(name="n", tags=set(WORDS), groups={"g": frozenset(WORDS)}),
    "pydantic_v1_set_field": TaggedV1(tags=set(WORDS)),
    "frozenset_of_strings": frozenset(WORDS),
    "dict_of_sets": {"a": set(WORDS), "b": {frozenset(WORDS[:5]), frozenset(WORDS[5:9])}},
    "set_of_tuples": {(w, i) for i, w in enumerate(WORDS)},
    "dataclass_with_set": Job(set(WORDS), datetime.datetime(2024, 5, 1, tzinfo=UTC)),
    "numpy_array": np.arange(10_000, dtype=np.float64).reshape(100, 100),
    "numpy_object_array": np.array([set(WORDS[:4]), "x"], dtype=object),
    "numpy_scalars": [np.int64(7), np.float32(0.5), np.bool_(True)],
    "pandas_frame": frame,
    "pandas_series": frame["t"],
    "pandas_index": pd.Index(WORDS),
    "misc": [Color.RED, decimal.Decimal("1.10"), uuid.UUID(int=7), pathlib.PurePosixPath("/a/b"),
             b"\x00\xff", Opaque(3), float("nan"), 10**5000],
}
print(json.dumps({k: params.hash_params(v, config.Settings()) for k, v in values.items()}))
"""


def hashes_in_subprocesses(seeds: list[str]) -> dict[str, dict[str, str]]:
    """The script's hashes in one fresh interpreter per ``PYTHONHASHSEED`` (run side by side)."""
    env = {k: v for k, v in os.environ.items() if k != "AGENT_INSTRUMENTORS_PARAMS_HASH_KEY"}
    procs = {
        seed: subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            env={**env, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in seeds
    }
    results = {}
    for seed, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results[seed] = json.loads(out)
    return results


def test_hashes_are_equal_across_processes_and_hash_seeds() -> None:
    runs = hashes_in_subprocesses(["0", "1", "12345", "random"])

    first = runs["0"]
    assert len(set(first.values())) == len(first)  # distinct values, distinct hashes
    for seed, hashes in runs.items():
        assert hashes == first, seed


def test_set_order_within_a_process_does_not_matter() -> None:
    words = [f"w{i}" for i in range(200)]

    one = {"s": set(words), "f": frozenset(words)}
    two = {"s": set(reversed(words)), "f": frozenset(reversed(words))}

    assert params.hash_params(one, NO_KEY) == params.hash_params(two, NO_KEY)


# --- numpy and pandas: full content, never the (eliding) repr --------------------------


def test_arrays_differing_in_one_middle_element_hash_differently() -> None:
    a = np.arange(10_000, dtype=np.int64)
    b = a.copy()
    b[5_000] = -1
    assert repr(a) == repr(b)  # precondition: the repr elides the difference

    assert params.hash_params({"x": a}, NO_KEY) != params.hash_params({"x": b}, NO_KEY)


def test_equal_arrays_hash_alike_whatever_their_memory_layout() -> None:
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    fortran = np.asfortranarray(a)
    wide = np.zeros((3, 8), dtype=np.int32)
    wide[:, ::2] = a
    strided = wide[:, ::2]
    assert not fortran.flags.c_contiguous
    assert not strided.flags.c_contiguous

    digest = params.hash_params(a, NO_KEY)

    assert params.hash_params(fortran, NO_KEY) == digest
    assert params.hash_params(strided, NO_KEY) == digest


@pytest.mark.parametrize(
    "other",
    [
        np.arange(12, dtype=np.int64).reshape(3, 4),  # dtype
        np.arange(12, dtype=np.int32).reshape(4, 3),  # shape
        np.arange(12, dtype=np.int32).reshape(3, 4).tolist(),  # a list is not an array
    ],
)
def test_array_dtype_and_shape_are_part_of_the_hash(other: Any) -> None:
    a = np.arange(12, dtype=np.int32).reshape(3, 4)

    assert params.hash_params(a, NO_KEY) != params.hash_params(other, NO_KEY)


def test_array_canonical_form() -> None:
    a = np.array([[1, 2], [3, 4]], dtype=np.int16)

    form = json.loads(params.canonical_json(a))

    assert form == {
        "$ndarray": {
            "dtype": "int16",
            "shape": [2, 2],
            "data_sha256": __import__("hashlib").sha256(a.tobytes()).hexdigest(),
        }
    }


def test_object_arrays_hash_their_objects() -> None:
    one = np.array([{"k": 1}, "x"], dtype=object)
    two = np.array([{"k": 2}, "x"], dtype=object)

    assert json.loads(params.canonical_json(one))["$ndarray"]["data"] == [{"k": 1}, "x"]
    assert params.hash_params(one, NO_KEY) != params.hash_params(two, NO_KEY)


def test_masked_arrays_include_the_mask() -> None:
    one = np.ma.masked_array([1, 2, 3], mask=[False, True, False])
    two = np.ma.masked_array([1, 2, 3], mask=[False, False, False])

    assert params.hash_params(one, NO_KEY) != params.hash_params(two, NO_KEY)


def test_numpy_scalars_hash_as_their_python_value() -> None:
    assert params.canonical_json([np.int64(3), np.float32(0.5), np.bool_(True)]) == "[3,0.5,true]"
    assert params.canonical_json(np.longdouble(1)).startswith('{"$ndarray":')


def test_data_frames_differing_in_one_cell_hash_differently() -> None:
    one = pd.DataFrame({"a": np.arange(10_000), "b": ["x"] * 10_000})
    two = one.copy()
    two.loc[5_000, "b"] = "y"
    assert repr(one) == repr(two)  # precondition: the repr elides the difference

    assert params.hash_params(one, NO_KEY) != params.hash_params(two, NO_KEY)
    assert params.hash_params(one, NO_KEY) == params.hash_params(one.copy(), NO_KEY)


def test_series_index_and_name_are_part_of_the_hash() -> None:
    base = pd.Series([1, 2, 3], name="n")

    digest = params.hash_params(base, NO_KEY)

    assert params.hash_params(pd.Series([1, 2, 3], name="n"), NO_KEY) == digest
    assert params.hash_params(pd.Series([1, 2, 3], name="m"), NO_KEY) != digest
    assert params.hash_params(pd.Series([1, 2, 3], name="n", index=[3, 4, 5]), NO_KEY) != digest
    assert params.hash_params(pd.Series([1, 2, 3], name="n", dtype="int32"), NO_KEY) != digest


def test_index_canonical_form() -> None:
    form = json.loads(params.canonical_json(pd.Index(["a", "b"], name="k")))

    assert form["$pandas.Index"]["names"] == ["k"]
    assert form["$pandas.Index"]["values"]["$ndarray"]["data"] == ["a", "b"]


# --- the rest of the documented canonical form -------------------------------------------


class Color(enum.Enum):
    RED = "red"


class Shade(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    y: set[int]


class PointModel(pydantic.BaseModel):
    x: int
    y: set[int]


class PointModelV1(pydantic.v1.BaseModel):
    x: int
    y: set[int]


class Opaque:
    def __init__(self, value: Any) -> None:
        self.value = value
        self._cache = object()  # private state is not part of the identity


UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({3, 1, 2}, '{"$set":[1,2,3]}'),
        ({"b", "a"}, '{"$set":["a","b"]}'),
        (frozenset({(2, "b"), (1, "a")}), '{"$set":[[1,"a"],[2,"b"]]}'),
        (b"\x00\xff", '{"$bytes":"AP8="}'),
        (float("nan"), '{"$float":"nan"}'),
        (Color.RED, '{"$enum":{"type":"Color","value":"red"}}'),
        (Level.HIGH, "3"),
        (
            datetime.datetime(2024, 5, 1, 12, tzinfo=UTC),
            '{"$datetime":"2024-05-01T12:00:00+00:00"}',
        ),
        (datetime.date(2024, 5, 1), '{"$date":"2024-05-01"}'),
        (datetime.time(8, 30), '{"$time":"08:30:00"}'),
        (datetime.timedelta(days=1, seconds=2), '{"$timedelta":[1,2,0]}'),
        (decimal.Decimal("1.10"), '{"$decimal":"1.10"}'),
        (uuid.UUID(int=1), '{"$uuid":"00000000-0000-0000-0000-000000000001"}'),
        (pathlib.PurePosixPath("/a/b"), '{"$path":"/a/b"}'),
        (complex(1, 2), '{"$complex":[1.0,2.0]}'),
        (Point(1, {2}), '{"x":1,"y":{"$set":[2]}}'),
        (PointModel(x=1, y={2}), '{"x":1,"y":{"$set":[2]}}'),
        (PointModelV1(x=1, y={2}), '{"x":1,"y":{"$set":[2]}}'),
        (
            Opaque(7),
            '{"$object":{"attrs":{"value":7},"repr":"<tests.security.test_hash_stability.Opaque'
            ' object>","type":"tests.security.test_hash_stability.Opaque"}}',
        ),
    ],
    ids=lambda v: type(v).__name__,
)
def test_documented_canonical_form(value: Any, expected: str) -> None:
    assert params.canonical_json(value) == expected
    assert params.canonical_json({"k": [value]}) == f'{{"k":[{expected}]}}'


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ({1, 2}, [1, 2]),
        ({"a"}, ["a"]),
        (b"abc", "abc"),
        (Color.RED, Shade.RED),
        (Color.RED, "red"),
        (datetime.datetime(2024, 5, 1, tzinfo=UTC), datetime.datetime(2024, 5, 1)),
        (datetime.date(2024, 5, 1), "2024-05-01"),
        (decimal.Decimal("1.10"), decimal.Decimal("1.1")),
        (float("nan"), "nan"),
        (Opaque(1), Opaque(2)),
        (Opaque(1), "<tests.security.test_hash_stability.Opaque object>"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_different_values_hash_differently(one: Any, two: Any) -> None:
    assert params.hash_params({"v": one}, NO_KEY) != params.hash_params({"v": two}, NO_KEY)


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ({1, 2}, frozenset({2, 1})),
        (Opaque(1), Opaque(1)),
        (PointModel(x=1, y={1, 2, 3}), {"x": 1, "y": {3, 2, 1}}),
        (Point(1, {2}), PointModel(x=1, y={2})),
        (Level.HIGH, 3),
        (np.float64(0.5), 0.5),
        (np.int64(3), 3),
    ],
    ids=lambda v: type(v).__name__,
)
def test_equal_values_hash_alike(one: Any, two: Any) -> None:
    assert params.hash_params({"v": one}, NO_KEY) == params.hash_params({"v": two}, NO_KEY)


def test_pydantic_model_hashes_like_its_python_dump_not_its_json_dump() -> None:
    words = {f"w{i}" for i in range(50)}
    model = PointModel(x=1, y=set(range(50)))

    assert params.canonical_json(model) == params.canonical_json({"x": 1, "y": set(range(50))})
    # Members sort by their canonical text, the same in every process.
    assert json.loads(params.canonical_json(model))["y"]["$set"] == sorted(range(50), key=str)
    assert params.hash_params(words, NO_KEY) == params.hash_params(set(sorted(words)), NO_KEY)


def test_fast_path_is_plain_sorted_json() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"z": "é", "y": 1}}

    assert params.canonical_json(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
