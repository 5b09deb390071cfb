"""The review page's inline CSS and JavaScript (see :mod:`.review`).

Kept apart so the page's structure reads without them. The script needs nothing from
outside: no module loader, no network, and it works on a ``file://`` page where the
asynchronous clipboard API is missing or refuses (it falls back to a hidden text area
and ``execCommand("copy")``, then to selecting the command for the user to copy).
"""

from __future__ import annotations

STYLE = """
:root { color-scheme: dark; --bg: #17181a; --card: #222427; --line: #34373c;
  --text: #e6e6e6; --muted: #9aa0a6; --accent: #f2c14e; --ok: #5cb85c; --bad: #e5534b; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; }
body > header { position: sticky; top: 0; z-index: 1; padding: 12px 20px;
  background: var(--bg); border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 20px; }
h2 { margin: 24px 0 8px; font-size: 16px; }
h3 { margin: 0; font-size: 14px; font-family: ui-monospace, Menlo, Consolas, monospace; }
main { padding: 16px 20px; overflow-x: auto; }
.summary { margin: 0 0 6px; color: var(--muted); }
.filter { display: flex; gap: 14px; align-items: center; border: 0; margin: 0; padding: 0; }
.filter legend { float: left; margin-right: 8px; color: var(--muted); }
.filter output { color: var(--muted); margin-left: 8px; }
ol.takes { list-style: none; margin: 0; padding: 0; display: grid; gap: 16px;
  grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); }
table.grid { border-collapse: separate; border-spacing: 8px; }
table.grid th { color: var(--muted); font-weight: 600; text-align: center; white-space: nowrap; }
table.grid td { vertical-align: top; min-width: 260px; max-width: 420px; }
.take { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px; margin-bottom: 8px; }
.take[data-pick="picked"] { border-color: var(--ok); }
.take[data-pick="rejected"] { opacity: 0.55; }
.take > header { display: flex; flex-wrap: wrap; gap: 6px; align-items: center;
  margin-bottom: 8px; }
.take time { color: var(--muted); margin-left: auto; }
.badge { border-radius: 10px; padding: 0 8px; font-size: 12px; border: 1px solid var(--line); }
.status-succeeded { color: var(--ok); }
.status-failed { color: var(--bad); border-color: var(--bad); }
.pick-picked { background: var(--ok); color: #000; border-color: var(--ok); }
.pick-rejected { background: var(--bad); color: #000; border-color: var(--bad); }
.pick-none { color: var(--muted); }
.media img, .media video { display: block; width: 100%; height: auto; max-height: 70vh;
  object-fit: contain; background: #000; }
.media a.file { display: inline-block; margin: 2px 0 6px; color: var(--muted); font-size: 12px; }
figure { margin: 6px 0; }
figcaption, summary { color: var(--muted); font-size: 12px; cursor: pointer; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 6px 0; }
dt { color: var(--muted); }
dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.params dl { max-height: 18em; overflow: auto; }
dt.varied, dd.varied { color: var(--accent); font-weight: 600; }
.error { color: var(--bad); white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; }
.note { border-left: 3px solid var(--accent); margin: 6px 0; padding-left: 8px;
  white-space: pre-wrap; }
.missing { color: var(--muted); font-style: italic; }
.retake { display: flex; gap: 6px; align-items: flex-start; margin-top: 8px; }
.retake code { flex: 1; padding: 4px 6px; background: #000; border-radius: 4px;
  font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; user-select: all; }
.retake button { font: inherit; font-size: 12px; cursor: pointer; }
.offscreen { position: fixed; top: -1000px; left: -1000px; opacity: 0; }
body[data-filter="picked"] .take:not([data-pick="picked"]),
body[data-filter="kept"] .take[data-pick="rejected"] { display: none; }
body[data-layout="grid"][data-filter="picked"] td .take:not([data-pick="picked"]),
body[data-layout="grid"][data-filter="kept"] td .take[data-pick="rejected"] {
  display: block; visibility: hidden; }
"""

SCRIPT = """
(function () {
  "use strict";
  function copyByHand(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function copied(button, code, ok) {
    button.textContent = ok ? "Copied" : "Selected: copy it";
    button.setAttribute("data-copied", ok ? "yes" : "no");
    if (!ok) { selectText(code); }
    window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    if (!button) { return; }
    var code = document.getElementById(button.getAttribute("data-copy"));
    if (!code) { return; }
    var text = code.textContent;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(
        function () { copied(button, code, true); },
        function () { copied(button, code, copyByHand(text)); });
    } else {
      copied(button, code, copyByHand(text));
    }
  });
  function applyFilter(value) {
    document.body.setAttribute("data-filter", value);
    var shown = 0;
    document.querySelectorAll(".take").forEach(function (take) {
      var pick = take.getAttribute("data-pick");
      if (value === "all" || (value === "picked" && pick === "picked") ||
          (value === "kept" && pick !== "rejected")) { shown += 1; }
    });
    var output = document.getElementById("shown");
    if (output) { output.textContent = shown + " shown"; }
  }
  document.querySelectorAll('input[name="filter"]').forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.checked) { applyFilter(input.value); }
    });
    if (input.checked) { applyFilter(input.value); }
  });
})();
"""
