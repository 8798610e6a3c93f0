"""The README's quick-start table is the demo's own output (``make readme`` rewrites it)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from readme_demo import columns_of, readme_table, table_of  # noqa: E402

from nbopt.cli import main  # noqa: E402


def test_the_readme_demo_table_has_the_demos_columns_and_variants(capsys, tmp_path):
    assert main(["demo", "--epochs", "1"]) == 0
    demo = table_of(capsys.readouterr().out)
    readme = readme_table()
    assert columns_of(readme[0]) == columns_of(demo[0])  # timings change; columns may not
    variants = [line.split()[0] for line in demo if not line.startswith(("[", "variant"))]
    assert [line.split()[0] for line in readme[1 : 1 + len(variants)]] == variants
    assert "RAM" in columns_of(readme[0])
