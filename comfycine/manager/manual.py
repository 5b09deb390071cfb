"""The steps to do by hand on the PC when ComfyUI-Manager cannot install for us.

Written for the machine the server runs on: PowerShell on Windows (``curl.exe`` ships
with Windows 10 and later; the portable build's Python is ``python_embeded\\python.exe``),
a POSIX shell elsewhere. Paths are relative to the ComfyUI folder, which comfycine cannot
see from the Mac.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import FixPlan


@dataclass(frozen=True)
class Machine:
    """What the steps depend on: the server's OS and whether it is the portable build."""

    windows: bool = True
    portable: bool = False

    @classmethod
    def from_system_stats(cls, stats: dict[str, object] | None) -> Machine:
        """From ``/system_stats`` (``system.os`` is ``nt`` on Windows; ``embedded_python``)."""
        system = (stats or {}).get("system")
        info = system if isinstance(system, dict) else {}
        os_name = str(info.get("os") or "nt")
        return cls(windows=os_name == "nt", portable=bool(info.get("embedded_python")))

    def path(self, *parts: str) -> str:
        """A path under the ComfyUI folder, with this machine's separator."""
        return ("\\" if self.windows else "/").join(parts)

    @property
    def python(self) -> str:
        """The Python that runs ComfyUI (the portable build's own one)."""
        if self.portable:
            return "..\\python_embeded\\python.exe" if self.windows else "../python_embeded/python"
        return "python"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def manual_steps(plan: FixPlan, machine: Machine) -> list[str]:
    """One line a step, in order: downloads, pack installs, restart, unresolved items."""
    where = "PowerShell" if machine.windows else "a terminal"
    steps = [f"On the PC, in {where}, in the ComfyUI folder:"]
    curl = "curl.exe" if machine.windows else "curl"
    for model in plan.models:
        target = machine.path("models", *model.folder.split("/"), *model.name.split("/"))
        steps.append(f"{curl} -L --create-dirs -o {_quote(target)} {_quote(model.url)}")
    for pack in plan.packs:
        if pack.repo:
            folder = machine.path("custom_nodes", pack.repo.rstrip("/").rsplit("/", 1)[-1])
            steps.append(f"git clone {_quote(pack.repo)} {_quote(folder)}")
            requirements = machine.path(folder, "requirements.txt")
            steps.append(f"{machine.python} -m pip install -r {_quote(requirements)}")
        else:
            steps.append(
                f"install the node pack {pack.title} from ComfyUI-Manager's Custom Nodes"
                " Manager (it provides " + ", ".join(pack.classes) + ")"
            )
    if plan.packs:
        steps.append("restart ComfyUI")
    for item in plan.unresolved:
        if item.get("kind") == "model":
            folder = item.get("folder") or "the matching folder"
            steps.append(
                f"find {item['name']} (no download URL is known) and put it into"
                f" {machine.path('models', str(folder))}"
            )
        else:
            steps.append(f"find the custom-node pack that provides {item['name']} and install it")
    if len(steps) == 1:
        return []
    return steps
