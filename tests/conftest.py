"""Shared pytest fixtures."""

from __future__ import annotations

import os

# No warm server (comfycine.warm) behind the tests' comfycine processes: each test runs
# the command it names, in place, and leaves no process behind. tests/warm sets it on.
os.environ["COMFYCINE_WARM"] = "off"

from .cli_support import finished_job, isolation  # noqa: F401
from .fakecloud.fixtures import fake_cloud  # noqa: F401
from .fakecomfy.fixtures import fake_comfy  # noqa: F401
from .faketelegram.fixtures import fake_telegram, telegram_configured  # noqa: F401
from .faultproxy import fault_proxy  # noqa: F401
from .ports import free_port, silent_port  # noqa: F401
from .real_claude import claude_code, claude_code_binary  # noqa: F401

# ComfyUI-Manager in a second real ComfyUI (tests/real_manager.py); its collection hook
# chains real_server's, so both builds happen before the first test that needs them.
from .real_manager import pytest_collection_finish, real_manager  # noqa: F401
from .real_proxy import real_v2_proxy, real_v2_proxy_token  # noqa: F401

# --- real ComfyUI (tests/real_server.py): the session fixture for tests marked `real` ---
from .real_server import real_comfyui  # noqa: F401
# --- end real ComfyUI ---
