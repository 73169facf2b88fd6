"""axe-core (vendored under tests/vendor) run inside a page: the serious and critical violations."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"


def serious_violations(page) -> list[str]:
    """Each serious or critical violation as "rule: target, ...". The page's context needs
    ``bypass_csp=True``: the strict CSP refuses the injected script, as it should."""
    page.add_script_tag(content=AXE.read_text())
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
              .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).slice(0, 5).join(", "));
        }"""
    )
    return list(violations)
