"""Local stand-ins for services outside the machine, shared by every instrumentor's tests.

Import them as ``from tests.fakes.openai_server import FakeOpenAIServer`` (``tests/``
is on ``sys.path`` under pytest's default import mode, through
``tests/conftest.py``). The model API servers share their plumbing through
``_fake_http``; each server module holds only its API's wire format.
"""
