"""Write comfycine/cli/fastpath/spec.json from the Typer declarations.

Run after changing an option of generate, status, wait or workflow show; a test fails
until the file matches the declarations.
"""

import json

from comfycine.cli.fastpath.derive import derive_spec
from comfycine.cli.fastpath.parse import SPEC_FILE

SPEC_FILE.write_text(json.dumps(derive_spec(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
print(f"wrote {SPEC_FILE.name}")
